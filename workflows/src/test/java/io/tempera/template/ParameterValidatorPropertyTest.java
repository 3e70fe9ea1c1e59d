package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * ParameterValidator against a model written here: for arbitrary JSON-like values (unicode, control
 * characters, huge strings, NaN and infinite doubles, longs at their bounds, big numbers, nested
 * lists and maps, wrong types) and arbitrary parameter specs, it never throws, every problem names
 * {@code parameters.<name>} and a code, and it accepts a value exactly when the value satisfies the
 * spec. Seeded fuzz tests: see {@link Fuzz} for the seed, the number of tries and a replay.
 */
class ParameterValidatorPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  // ----- the properties

  @Test
  void problemsAreExactlyTheSpecViolations() {
    Fuzz.forAll(
        "problemsAreExactlyTheSpecViolations",
        300,
        ParameterValidatorPropertyTest::request,
        ParameterValidatorPropertyTest::problemsAreExactlyTheSpecViolations);
  }

  private static void problemsAreExactlyTheSpecViolations(Request request) {
    List<RequestProblem> problems =
        ParameterValidator.validate(request.template(), request.parameters());

    for (RequestProblem p : problems) {
      assertThat(p.field()).startsWith("parameters.");
      assertThat(p.code())
          .isIn("UNKNOWN_PARAMETER", "MISSING_PARAMETER", "NULL_NOT_ALLOWED", "INVALID_PARAMETER");
      assertThat(p.message()).isNotBlank();
    }
    assertThat(sorted(problems)).isEqualTo(sorted(expectedProblems(request)));
  }

  @Test
  void aSingleValueIsAcceptedExactlyWhenItSatisfiesTheSpec() {
    Fuzz.forAll(
        "aSingleValueIsAcceptedExactlyWhenItSatisfiesTheSpec",
        300,
        ParameterValidatorPropertyTest::specAndValue,
        ParameterValidatorPropertyTest::aSingleValueIsAcceptedExactlyWhenItSatisfiesTheSpec);
  }

  private static void aSingleValueIsAcceptedExactlyWhenItSatisfiesTheSpec(SpecAndValue sample) {
    ParameterSpec spec = sample.spec();
    Object value = sample.value();
    String problem = value == null ? null : ParameterValidator.valueProblem(spec, value);
    if (value != null) {
      assertThat(problem == null)
          .as("valueProblem(%s, %s) = %s", spec, describe(value), problem)
          .isEqualTo(satisfies(spec, value));
    }
    // the same value through the request path, as the API gives it
    Map<String, Object> parameters = new LinkedHashMap<>();
    parameters.put(spec.name(), value);
    List<RequestProblem> problems =
        ParameterValidator.validate(template(List.of(spec)), parameters);
    boolean ok = value == null ? spec.nullable() : satisfies(spec, value);
    assertThat(problems.isEmpty()).as("%s for %s", problems, describe(value)).isEqualTo(ok);
    problems.forEach(p -> assertThat(p.field()).isEqualTo("parameters." + spec.name()));
  }

  @Test
  void valuesThatSurviveJsonAreJudgedAlike() {
    Fuzz.forAll(
        "valuesThatSurviveJsonAreJudgedAlike",
        200,
        ParameterValidatorPropertyTest::specAndValue,
        ParameterValidatorPropertyTest::valuesThatSurviveJsonAreJudgedAlike);
  }

  private static void valuesThatSurviveJsonAreJudgedAlike(SpecAndValue sample) throws Exception {
    // what the API really hands over: the value as Jackson reads it back from the request body
    Object value = sample.value();
    if (value instanceof Double d && !Double.isFinite(d)) {
      return; // not JSON
    }
    String body;
    try {
      body = JSON.writeValueAsString(value);
    } catch (Exception notJson) {
      return;
    }
    Object read = JSON.readValue(body, Object.class);
    Map<String, Object> parameters = new LinkedHashMap<>();
    parameters.put(sample.spec().name(), read);
    List<RequestProblem> problems =
        ParameterValidator.validate(template(List.of(sample.spec())), parameters);
    boolean ok = read == null ? sample.spec().nullable() : satisfies(sample.spec(), read);
    assertThat(problems.isEmpty()).as("%s for %s", problems, describe(read)).isEqualTo(ok);
  }

  record Bound(long bound, int delta, boolean isMax) {}

  @Test
  void integerBoundsHoldExactlyForLongsBeyondDoublePrecision() {
    Fuzz.forAll(
        "integerBoundsHoldExactlyForLongsBeyondDoublePrecision",
        300,
        f -> new Bound(f.anyLong(), f.between(-2048, 2048), f.bool()),
        b ->
            integerBoundsHoldExactlyForLongsBeyondDoublePrecision(b.bound(), b.delta(), b.isMax()));
  }

  private static void integerBoundsHoldExactlyForLongsBeyondDoublePrecision(
      long bound, int delta, boolean isMax) {
    // a template's bounds are doubles; a request's whole numbers are longs, exact beyond 2^53
    long value = bound + delta;
    if ((delta > 0 && value < bound) || (delta < 0 && value > bound)) {
      return; // overflowed
    }
    ParameterSpec spec =
        new ParameterSpec(
            "p",
            "integer",
            null,
            isMax ? null : (double) bound,
            isMax ? (double) bound : null,
            List.of(),
            false,
            null);
    assertThat(ParameterValidator.valueProblem(spec, value) == null)
        .as("%d against %s", value, spec)
        .isEqualTo(satisfies(spec, value));
    ParameterSpec choice =
        new ParameterSpec("p", "integer", null, null, null, List.of(bound), false, null);
    assertThat(ParameterValidator.valueProblem(choice, value) == null).isEqualTo(value == bound);
  }

  // ----- the model

  /** The problems the validator should report, by field and code. */
  static List<String> expectedProblems(Request request) {
    List<String> out = new ArrayList<>();
    Map<String, ParameterSpec> specs = request.template().parameters();
    for (String key : request.parameters().keySet()) {
      if (!specs.containsKey(key)) {
        out.add("parameters." + key + " UNKNOWN_PARAMETER");
      }
    }
    for (ParameterSpec spec : specs.values()) {
      String field = "parameters." + spec.name();
      if (!request.parameters().containsKey(spec.name())) {
        if (spec.required() && !spec.hasDefault()) {
          out.add(field + " MISSING_PARAMETER");
        }
      } else if (request.parameters().get(spec.name()) == null) {
        if (!spec.nullable()) {
          out.add(field + " NULL_NOT_ALLOWED");
        }
      } else if (!satisfies(spec, request.parameters().get(spec.name()))) {
        out.add(field + " INVALID_PARAMETER");
      }
    }
    return out;
  }

  /** The spec, written independently of the validator: type, range (exact), choices. */
  static boolean satisfies(ParameterSpec spec, Object value) {
    boolean typed =
        switch (spec.type()) {
          case "string" -> value instanceof String s && s.length() <= 10_000;
          case "boolean" -> value instanceof Boolean;
          case "image" -> value instanceof String s && projectPath(s);
          case "number" -> value instanceof Number n && Double.isFinite(n.doubleValue());
          case "integer" -> value instanceof Number n && whole(n);
          default -> false;
        };
    if (!typed) {
      return false;
    }
    if (value instanceof Number n) {
      BigDecimal x = exact(n);
      if (spec.min() != null && x.compareTo(exact(spec.min())) < 0) {
        return false;
      }
      if (spec.max() != null && x.compareTo(exact(spec.max())) > 0) {
        return false;
      }
    }
    return spec.enumValues().isEmpty()
        || spec.enumValues().stream()
            .anyMatch(e ->
                e instanceof Number a && value instanceof Number b
                    ? exact(a).compareTo(exact(b)) == 0
                    : e.equals(value));
  }

  /** Java's integral types whole; any other number only when whole and exact (below 9e15). */
  private static boolean whole(Number n) {
    if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
      return true;
    }
    if (!Double.isFinite(n.doubleValue())) {
      return false;
    }
    BigDecimal x = exact(n);
    return x.stripTrailingZeros().scale() <= 0 && x.abs().compareTo(new BigDecimal("9e15")) < 0;
  }

  private static BigDecimal exact(Number n) {
    return switch (n) {
      case BigDecimal d -> d;
      case BigInteger i -> new BigDecimal(i);
      case Double d -> new BigDecimal(d);
      case Float f -> new BigDecimal(f.doubleValue());
      default -> BigDecimal.valueOf(n.longValue());
    };
  }

  /** Relative, '/'-separated, no empty segment, no "..", no leading '.', at most 512 chars. */
  private static boolean projectPath(String s) {
    if (s.isEmpty() || s.length() > 512 || s.startsWith(".") || s.contains("..")) {
      return false;
    }
    String[] segments = s.split("/", -1);
    for (int i = 0; i < segments.length; i++) {
      String segment = segments[i];
      if (segment.isEmpty()) {
        return false;
      }
      for (char c : segment.toCharArray()) {
        boolean plain =
            (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || c == '.'
                || c == '_'
                || c == '-';
        if (!plain && !(c == ' ' && i > 0)) {
          return false;
        }
      }
    }
    return true;
  }

  // ----- generators

  record Request(FunctionTemplate template, Map<String, Object> parameters) {
    @Override
    public String toString() {
      return template.parameters().values() + " <- " + describe(parameters);
    }
  }

  record SpecAndValue(ParameterSpec spec, Object value) {
    @Override
    public String toString() {
      return spec + " <- " + describe(value);
    }
  }

  static SpecAndValue specAndValue(Fuzz f) {
    ParameterSpec spec = spec(f, "p");
    Object value = f.orNull(0.05, () -> f.bool() ? anyValue(f) : valueNear(f, spec));
    return new SpecAndValue(spec, value);
  }

  static Request request(Fuzz f) {
    int n = f.between(0, 4);
    List<ParameterSpec> specs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      specs.add(spec(f, "p" + i));
    }
    Map<String, Object> parameters = new LinkedHashMap<>();
    for (ParameterSpec spec : specs) {
      // left out, given null, or given a value
      switch (f.weighted(2, 1, 6)) {
        case 0 -> {}
        case 1 -> parameters.put(spec.name(), null);
        default -> parameters.put(spec.name(), f.bool() ? anyValue(f) : valueNear(f, spec));
      }
    }
    List<String> extra = f.list(0, 2, () -> hostileKey(f));
    extra.forEach(k -> parameters.putIfAbsent(k, "x"));
    return new Request(template(specs), parameters);
  }

  private static String hostileKey(Fuzz f) {
    return f.bool()
        ? f.string(12)
        : f.of("", "p0.x", "__proto__", "../p0", "${p0}", "parameters.p0", "p0 ", "P0");
  }

  /** A spec as the template parser builds it: bounds on numbers only, a default that fits. */
  static ParameterSpec spec(Fuzz f, String name) {
    String type = f.of(ParameterSpec.TYPES);
    boolean numeric = type.equals("integer") || type.equals("number");
    Double a = numeric ? f.orNull(0.4, () -> bound(f)) : null;
    Double b = numeric ? f.orNull(0.4, () -> bound(f)) : null;
    List<Object> enumValues =
        switch (f.choice(3)) {
          case 0, 1 -> List.of();
          default -> f.list(1, 4, () -> typedValue(f, type));
        };
    boolean required = f.bool();
    boolean nullable = f.bool();
    Double min = a != null && b != null ? Double.valueOf(Math.min(a, b)) : a;
    Double max = a != null && b != null ? Double.valueOf(Math.max(a, b)) : b;
    ParameterSpec bare =
        new ParameterSpec(name, type, null, min, max, enumValues, required, null, nullable, false);
    List<Object> defaults = defaultCandidates(bare);
    int variants = 2 + (nullable ? 1 : 0) + (defaults.isEmpty() ? 0 : 1);
    int pick = f.choice(variants);
    if (pick < 2) {
      return bare;
    }
    if (nullable && pick == 2) {
      return new ParameterSpec(name, type, null, min, max, enumValues, required, null, true, true);
    }
    return new ParameterSpec(
        name, type, f.of(defaults), min, max, enumValues, required, null, nullable, true);
  }

  /** Values a template could declare as the default: those of the candidates that fit. */
  private static List<Object> defaultCandidates(ParameterSpec spec) {
    List<Object> candidates = new ArrayList<>(spec.enumValues());
    for (Double bound : new Double[] {spec.min(), spec.max()}) {
      if (bound != null) {
        candidates.add(bound);
        candidates.add((long) Math.ceil(bound));
        candidates.add((long) Math.floor(bound));
      }
    }
    candidates.addAll(List.of("x", "", true, false, 0L, 1L, 0.5, "uploads/a.png"));
    return candidates.stream().filter(v -> satisfies(spec, v)).distinct().toList();
  }

  /** Bounds as a template declares them (read as doubles), including large and fractional ones. */
  private static double bound(Fuzz f) {
    return switch (f.choice(4)) {
      case 0 -> (double) f.between(-1000, 1000);
      case 1 -> f.between(-1e6, 1e6);
      case 2 -> f.of(0.25, 1.5, -0.5, 9e15, -9e15, 9.007199254740992e15, 9.223372036854776e18);
      default -> (double) f.anyLong();
    };
  }

  /** A value of the right Java type for a parameter type (not necessarily in range). */
  private static Object typedValue(Fuzz f, String type) {
    return switch (type) {
      case "string" -> string(f);
      case "integer" -> f.between(-50L, 50L);
      case "number" -> f.between(-50.0, 50.0, 2);
      case "boolean" -> f.bool();
      default -> path(f);
    };
  }

  /** Values around a spec: inside, on and just outside its bounds, its choices, its type. */
  static Object valueNear(Fuzz f, ParameterSpec spec) {
    List<java.util.function.Supplier<Object>> near = new ArrayList<>();
    near.add(() -> typedValue(f, spec.type()));
    if (!spec.enumValues().isEmpty()) {
      near.add(() -> f.of(spec.enumValues()));
    }
    for (Double bound : new Double[] {spec.min(), spec.max()}) {
      if (bound == null) {
        continue;
      }
      near.add(() ->
          f.of(
              bound,
              Math.nextUp(bound),
              Math.nextDown(bound),
              (Object) (long) Math.floor(bound),
              (Object) ((long) Math.floor(bound) + 1),
              (Object) ((long) Math.ceil(bound) - 1),
              // Jackson reads an integer literal beyond the long range as a BigInteger
              new BigDecimal(bound).toBigInteger().add(BigInteger.ONE),
              new BigDecimal(bound).toBigInteger().subtract(BigInteger.ONE)));
    }
    if (spec.min() != null && spec.max() != null) {
      double lo = Math.max(spec.min(), -1e15);
      double hi = Math.min(spec.max(), 1e15);
      if (lo <= hi) {
        near.add(() -> f.between(lo, hi));
        if (Math.ceil(lo) <= Math.floor(hi)) {
          near.add(() -> f.between((long) Math.ceil(lo), (long) Math.floor(hi)));
        }
      }
    }
    return f.of(near).get();
  }

  /**
   * Anything a JSON body can hold, as Jackson reads it (Integer, Long, BigInteger, Double; no
   * BigDecimal: the API does not read floats as BigDecimal), and Float for a careless caller.
   */
  static Object anyValue(Fuzz f) {
    return f.nested(3, () -> scalar(f));
  }

  private static Object scalar(Fuzz f) {
    if (f.chance(0.05)) {
      return null;
    }
    return switch (f.choice(11)) {
      case 0 -> string(f);
      case 1 -> path(f);
      case 2 -> f.anyInt();
      case 3 -> f.anyLong();
      case 4 -> f.of(Long.MAX_VALUE, Long.MIN_VALUE, 9007199254740993L, -9007199254740993L);
      case 5 -> f.anyDouble();
      case 6 ->
          f.chance(0.5)
              ? f.specialDouble()
              : f.of(
                  Double.NaN,
                  Double.POSITIVE_INFINITY,
                  Double.NEGATIVE_INFINITY,
                  -0.0,
                  Double.MAX_VALUE,
                  Double.MIN_VALUE,
                  9e15,
                  8.999999999999999e15,
                  1e300,
                  3.0,
                  2.5);
      case 7 -> f.anyFloat();
      case 8 -> f.between(BigInteger.TEN.pow(30).negate(), BigInteger.TEN.pow(30));
      case 9 ->
          f.of(
              BigInteger.TWO.pow(63),
              BigInteger.TWO.pow(64).negate(),
              new BigInteger("1" + "0".repeat(400)));
      default -> f.bool();
    };
  }

  private static Object string(Fuzz f) {
    return switch (f.choice(4)) {
      case 0 -> f.string(30);
      case 1 -> f.string('\u0000', '\u001f', 10);
      case 2 -> "é".repeat(f.between(9_995, 10_005));
      default -> f.of("", "\uD83D\uDE00", "\uD800", "${p0}", "{\"a\":1}", "null", "true");
    };
  }

  private static Object path(Fuzz f) {
    return switch (f.choice(4)) {
      case 0 -> f.string("ab./_- \\:~", 1, 16);
      case 1 -> "a".repeat(f.between(505, 520));
      case 2 -> "a/".repeat(f.between(250, 260)) + "b";
      default ->
          f.of(
              "uploads/photo.png",
              "uploads/my photo.png",
              "../etc/passwd",
              "uploads/../../x",
              "/etc/passwd",
              ".env",
              "a//b",
              "a\\b",
              "a/",
              "C:/x",
              "uploads/\u00e9.png",
              "uploads/x.png\u0000.txt");
    };
  }

  // ----- helpers

  static FunctionTemplate template(List<ParameterSpec> specs) {
    Map<String, ParameterSpec> parameters = new LinkedHashMap<>();
    specs.forEach(s -> parameters.put(s.name(), s));
    return new FunctionTemplate(
        "fuzz",
        "1.0.0",
        "Fuzz",
        "general",
        null,
        null,
        "comfyui",
        JSON.createObjectNode(),
        60,
        parameters,
        List.of(),
        Map.of(),
        "fuzz/template.json",
        Map.of(),
        Map.of(),
        List.of());
  }

  private static List<String> sorted(List<?> problems) {
    List<String> out = new ArrayList<>();
    for (Object p : problems) {
      out.add(p instanceof RequestProblem r ? r.field() + " " + r.code() : (String) p);
    }
    out.sort(Comparator.naturalOrder());
    return out;
  }

  static String describe(Object value) {
    if (value == null) {
      return "null";
    }
    String text = String.valueOf(value);
    String shown = text.length() > 80 ? text.substring(0, 80) + "…(" + text.length() + ")" : text;
    return value.getClass().getSimpleName() + " " + shown;
  }
}
