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
 * @param random an integer (a seed) that the API draws afresh, within {@link #randomLow()} and
 *     {@link #randomHigh()}, for each request that leaves it out; the drawn value is part of the
 *     generation's request, so its state shows it and sending it again reproduces the result
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
    boolean hasDefault,
    boolean random) {

  public static final List<String> TYPES =
      List.of("string", "integer", "number", "boolean", "image");

  /** The widest range a random parameter is drawn from: an unsigned 32-bit seed. */
  public static final long RANDOM_MAX = 4_294_967_295L;

  public ParameterSpec {
    enumValues = enumValues == null ? List.of() : List.copyOf(enumValues);
    hasDefault = hasDefault || defaultValue != null;
    if (hasDefault && defaultValue == null && !nullable) {
      throw new IllegalArgumentException(
          "parameter " + name + " has a null default but is not nullable");
    }
    if (random && (!"integer".equals(type) || hasDefault)) {
      throw new IllegalArgumentException(
          "parameter " + name + " is random: it must be an integer without a default");
    }
  }

  /** A parameter without a random draw. */
  public ParameterSpec(
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
    this(
        name,
        type,
        defaultValue,
        min,
        max,
        enumValues,
        required,
        description,
        nullable,
        hasDefault,
        false);
  }

  /** The lowest value a random draw gives: the parameter's min, at least 0. */
  public long randomLow() {
    return min == null ? 0 : Math.max(0, (long) Math.ceil(min));
  }

  /** The highest value a random draw gives: the parameter's max, at most {@link #RANDOM_MAX}. */
  public long randomHigh() {
    return max == null ? RANDOM_MAX : Math.min(RANDOM_MAX, (long) Math.floor(max));
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
