package io.tempera.template;

import java.util.List;

/**
 * One parameter a function takes.
 *
 * @param type string, integer, number, boolean or image (a file inside the project folder)
 */
public record ParameterSpec(
    String name,
    String type,
    Object defaultValue,
    Double min,
    Double max,
    List<Object> enumValues,
    boolean required,
    String description) {

  public static final List<String> TYPES =
      List.of("string", "integer", "number", "boolean", "image");

  public ParameterSpec {
    enumValues = enumValues == null ? List.of() : List.copyOf(enumValues);
  }
}
