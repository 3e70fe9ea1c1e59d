package io.tempera.template;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks a request's parameters against a template: every problem, not just the first. A parameter
 * left out takes its default (or, without one, is left out of the backend payload); a null is
 * accepted only for a parameter declared {@code "nullable": true}.
 */
public final class ParameterValidator {

  /** A file inside the project folder: relative, no '..', no backslashes, no empty segments. */
  private static final Pattern PROJECT_PATH =
      Pattern.compile("[A-Za-z0-9._-]+(/[A-Za-z0-9._ -]+)*");

  private ParameterValidator() {}

  public static List<RequestProblem> validate(
      FunctionTemplate template, Map<String, Object> parameters) {
    List<RequestProblem> problems = new ArrayList<>();
    Map<String, Object> given = parameters == null ? Map.of() : parameters;
    for (String key : given.keySet()) {
      if (!template.parameters().containsKey(key)) {
        problems.add(
            new RequestProblem(
                "parameters." + key,
                "UNKNOWN_PARAMETER",
                "'"
                    + key
                    + "' is not a parameter of "
                    + template.id()
                    + " (parameters: "
                    + String.join(", ", template.parameters().keySet())
                    + ")"));
      }
    }
    for (ParameterSpec spec : template.parameters().values()) {
      if (!given.containsKey(spec.name())) {
        if (spec.required() && !spec.hasDefault()) {
          problems.add(
              new RequestProblem(
                  "parameters." + spec.name(),
                  "MISSING_PARAMETER",
                  "'" + spec.name() + "' is required"));
        }
        continue;
      }
      Object value = given.get(spec.name());
      if (value == null) {
        if (!spec.nullable()) {
          problems.add(
              new RequestProblem(
                  "parameters." + spec.name(), "NULL_NOT_ALLOWED", nullProblem(spec)));
        }
        continue;
      }
      String problem = valueProblem(spec, value);
      if (problem != null) {
        problems.add(
            new RequestProblem(
                "parameters." + spec.name(),
                "INVALID_PARAMETER",
                "'" + spec.name() + "' " + problem));
      }
    }
    return problems;
  }

  /** What a person reads when they sent null for a parameter that takes no null. */
  static String nullProblem(ParameterSpec spec) {
    String name = "'" + spec.name() + "'";
    if (spec.required() && !spec.hasDefault()) {
      return name + " is required and cannot be null: give a " + typeName(spec.type());
    }
    return name
        + " cannot be null: give a "
        + typeName(spec.type())
        + ", or leave it out to use "
        + (spec.hasDefault()
            ? "its default " + spec.defaultValue()
            : "the default of the function's backend");
  }

  private static String typeName(String type) {
    return switch (type) {
      case "integer" -> "whole number";
      case "boolean" -> "true or false";
      case "image" -> "project image path";
      default -> type;
    };
  }

  /** Why {@code value} is not acceptable for {@code spec}, or null. */
  public static String valueProblem(ParameterSpec spec, Object value) {
    String typeProblem = typeProblem(spec.type(), value);
    if (typeProblem != null) {
      return typeProblem;
    }
    if (value instanceof Number number) {
      if (spec.min() != null && compare(number, spec.min()) < 0) {
        return "must be at least " + format(spec.min()) + ", got " + value;
      }
      if (spec.max() != null && compare(number, spec.max()) > 0) {
        return "must be at most " + format(spec.max()) + ", got " + value;
      }
    }
    if (!spec.enumValues().isEmpty()
        && spec.enumValues().stream().noneMatch(e -> sameValue(e, value))) {
      return "must be one of " + spec.enumValues() + ", got " + value;
    }
    return null;
  }

  /** Why {@code value} is not of {@code type}, or null. */
  public static String typeProblem(String type, Object value) {
    return switch (type) {
      case "string" ->
          value instanceof String s
              ? (s.length() > 10_000 ? "must be at most 10000 characters" : null)
              : "must be a string";
      case "integer" -> isWhole(value) ? null : "must be a whole number";
      case "number" ->
          value instanceof Number n && Double.isFinite(n.doubleValue()) ? null : "must be a number";
      case "boolean" -> value instanceof Boolean ? null : "must be true or false";
      case "image" ->
          value instanceof String s && isProjectPath(s)
              ? null
              : "must be the path of an image inside the project, such as uploads/photo.png";
      default -> "has an unknown type " + type;
    };
  }

  public static boolean isProjectPath(String path) {
    return path.length() <= 512
        && PROJECT_PATH.matcher(path).matches()
        && !path.contains("..")
        && !path.startsWith(".");
  }

  private static boolean isWhole(Object value) {
    if (value instanceof Integer || value instanceof Long || value instanceof Short) {
      return true;
    }
    if (value instanceof Number n) {
      double d = n.doubleValue();
      return Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 9.0e15;
    }
    return false;
  }

  private static boolean sameValue(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      BigDecimal ex = exact(x);
      BigDecimal ey = exact(y);
      return ex == null || ey == null ? x.doubleValue() == y.doubleValue() : ex.compareTo(ey) == 0;
    }
    return a.equals(b);
  }

  /**
   * {@code n} against {@code bound}, exactly: a long beyond 2^53 is not first rounded to the
   * nearest double (9007199254740993 is above a max of 9007199254740992).
   */
  private static int compare(Number n, double bound) {
    BigDecimal x = exact(n);
    if (x == null || !Double.isFinite(bound)) {
      double d = n.doubleValue();
      return d < bound ? -1 : (d > bound ? 1 : 0);
    }
    return x.compareTo(new BigDecimal(bound));
  }

  /** The exact value of a finite number; null for NaN and the infinities. */
  private static BigDecimal exact(Number n) {
    double d = n.doubleValue();
    if (!Double.isFinite(d)) {
      return null;
    }
    return switch (n) {
      case Long l -> BigDecimal.valueOf(l);
      case Integer i -> BigDecimal.valueOf(i);
      case Short s -> BigDecimal.valueOf(s);
      case BigInteger b -> new BigDecimal(b);
      case BigDecimal b -> b;
      default -> new BigDecimal(d);
    };
  }

  private static String format(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }
}
