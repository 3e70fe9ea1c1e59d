package io.tempera.template;

import java.util.List;

/**
 * One parameter a function takes.
 *
 * @param type string, integer, number, boolean or image (a file inside the project folder)
 * @param defaultValue the value used when the request leaves the parameter out and the tier does
 *     not set its target; null when there is none, or when the default is null ({@code hasDefault})
 * @param nullable a request may send {@code null} for it, which is sent to the backend as JSON null
 * @param hasDefault the template declares a default (possibly null, for a nullable parameter); a
 *     parameter that is not required and has no default is left out of the backend payload when the
 *     request leaves it out, so the backend's own default applies
 */
public record ParameterSpec(
    String name,
    String type,
    Object defaultValue,
    Double min,
    Double max,
    List<Object> enumValues,
    boolean required,
    String description,
    boolean nullable,
    boolean hasDefault) {

  public static final List<String> TYPES =
      List.of("string", "integer", "number", "boolean", "image");

  public ParameterSpec {
    enumValues = enumValues == null ? List.of() : List.copyOf(enumValues);
    hasDefault = hasDefault || defaultValue != null;
    if (hasDefault && defaultValue == null && !nullable) {
      throw new IllegalArgumentException(
          "parameter " + name + " has a null default but is not nullable");
    }
  }

  /** A parameter that is not nullable, with a default when {@code defaultValue} is not null. */
  public ParameterSpec(
      String name,
      String type,
      Object defaultValue,
      Double min,
      Double max,
      List<Object> enumValues,
      boolean required,
      String description) {
    this(name, type, defaultValue, min, max, enumValues, required, description, false, false);
  }
}
