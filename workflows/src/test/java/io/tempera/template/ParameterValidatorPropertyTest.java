package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * ParameterValidator against a model written here: for arbitrary JSON-like values (unicode, control
 * characters, huge strings, NaN and infinite doubles, longs at their bounds, big numbers, nested
 * lists and maps, wrong types) and arbitrary parameter specs, it never throws, every problem names
 * {@code parameters.<name>} and a code, and it accepts a value exactly when the value satisfies the
 * spec.
 */
class ParameterValidatorPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  // ----- the properties

  @Property(tries = 300)
  void problemsAreExactlyTheSpecViolations(@ForAll("requests") Request request) {
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

  @Property(tries = 300)
  void aSingleValueIsAcceptedExactlyWhenItSatisfiesTheSpec(
      @ForAll("specAndValue") SpecAndValue sample) {
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

  @Property(tries = 200)
  void valuesThatSurviveJsonAreJudgedAlike(@ForAll("specAndValue") SpecAndValue sample)
      throws Exception {
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

  @Property(tries = 300)
  void integerBoundsHoldExactlyForLongsBeyondDoublePrecision(
      @ForAll long bound,
      @ForAll @net.jqwik.api.constraints.IntRange(min = -2048, max = 2048) int delta,
      @ForAll boolean isMax) {
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

  @Provide
  Arbitrary<SpecAndValue> specAndValue() {
    return specs("p")
        .flatMap(spec ->
            Arbitraries.oneOf(anyValue(), valueNear(spec))
                .injectNull(0.05)
                .map(v -> new SpecAndValue(spec, v)));
  }

  @Provide
  Arbitrary<Request> requests() {
    Arbitrary<List<ParameterSpec>> specLists =
        Arbitraries.integers()
            .between(0, 4)
            .flatMap(n -> {
              List<Arbitrary<ParameterSpec>> each = new ArrayList<>();
              for (int i = 0; i < n; i++) {
                each.add(specs("p" + i));
              }
              return Combinators.combine(each).as(List::copyOf);
            });
    return specLists.flatMap(specs -> {
      List<Arbitrary<Optional<Map.Entry<String, Object>>>> entries = new ArrayList<>();
      for (ParameterSpec spec : specs) {
        Arbitrary<Object> value = Arbitraries.oneOf(anyValue(), valueNear(spec));
        // left out (null entry), given null, or given a value
        entries.add(
            Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.just(Optional.<Map.Entry<String, Object>>empty())),
                Tuple.of(
                    1,
                    Arbitraries.just(
                        Optional.<Map.Entry<String, Object>>of(
                            new SimpleEntry<>(spec.name(), null)))),
                Tuple.of(
                    6,
                    value.map(v ->
                        Optional.<Map.Entry<String, Object>>of(
                            new SimpleEntry<>(spec.name(), v))))));
      }
      Arbitrary<List<String>> unknown = hostileKeys().list().ofMaxSize(2);
      return Combinators.combine(Combinators.combine(entries).as(List::copyOf), unknown)
          .as((given, extra) -> {
            Map<String, Object> parameters = new LinkedHashMap<>();
            given.forEach(e -> e.ifPresent(x -> parameters.put(x.getKey(), x.getValue())));
            extra.forEach(k -> parameters.putIfAbsent(k, "x"));
            return new Request(template(specs), parameters);
          });
    });
  }

  private static Arbitrary<String> hostileKeys() {
    return Arbitraries.oneOf(
        Arbitraries.strings().all().ofMaxLength(12),
        Arbitraries.of("", "p0.x", "__proto__", "../p0", "${p0}", "parameters.p0", "p0 ", "P0"));
  }

  /** A spec as the template parser builds it: bounds on numbers only, a default that fits. */
  static Arbitrary<ParameterSpec> specs(String name) {
    Arbitrary<String> types = Arbitraries.of(ParameterSpec.TYPES);
    return types.flatMap(type -> {
      boolean numeric = type.equals("integer") || type.equals("number");
      Arbitrary<Double> bound = numeric ? bounds().injectNull(0.4) : Arbitraries.just(null);
      Arbitrary<List<Object>> choices =
          Arbitraries.oneOf(
              Arbitraries.just(List.<Object>of()),
              Arbitraries.just(List.<Object>of()),
              typedValue(type).list().ofMinSize(1).ofMaxSize(4));
      return Combinators.combine(
              bound, bound, choices, Arbitraries.of(true, false), Arbitraries.of(true, false))
          .flatAs((a, b, enumValues, required, nullable) -> {
            Double min = a != null && b != null ? Double.valueOf(Math.min(a, b)) : a;
            Double max = a != null && b != null ? Double.valueOf(Math.max(a, b)) : b;
            ParameterSpec bare =
                new ParameterSpec(
                    name, type, null, min, max, enumValues, required, null, nullable, false);
            List<Arbitrary<ParameterSpec>> variants = new ArrayList<>();
            variants.add(Arbitraries.just(bare));
            variants.add(Arbitraries.just(bare));
            if (nullable) {
              variants.add(
                  Arbitraries.just(
                      new ParameterSpec(
                          name, type, null, min, max, enumValues, required, null, true, true)));
            }
            List<Object> defaults = defaultCandidates(bare);
            if (!defaults.isEmpty()) {
              variants.add(
                  Arbitraries.of(defaults)
                      .map(d ->
                          new ParameterSpec(
                              name,
                              type,
                              d,
                              min,
                              max,
                              enumValues,
                              required,
                              null,
                              nullable,
                              true)));
            }
            return Arbitraries.oneOf(variants);
          });
    });
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
  private static Arbitrary<Double> bounds() {
    return Arbitraries.oneOf(
        Arbitraries.integers().between(-1000, 1000).map(Double::valueOf),
        Arbitraries.doubles().between(-1e6, 1e6),
        Arbitraries.of(0.25, 1.5, -0.5, 9e15, -9e15, 9.007199254740992e15, 9.223372036854776e18),
        Arbitraries.longs().map(Long::doubleValue));
  }

  /** A value of the right Java type for a parameter type (not necessarily in range). */
  private static Arbitrary<Object> typedValue(String type) {
    return switch (type) {
      case "string" -> strings();
      case "integer" -> Arbitraries.longs().between(-50, 50).map(Object.class::cast);
      case "number" -> Arbitraries.doubles().between(-50, 50).ofScale(2).map(Object.class::cast);
      case "boolean" -> Arbitraries.of(true, false).map(Object.class::cast);
      default -> paths();
    };
  }

  /** Values around a spec: inside, on and just outside its bounds, its choices, its type. */
  static Arbitrary<Object> valueNear(ParameterSpec spec) {
    List<Arbitrary<Object>> near = new ArrayList<>();
    near.add(typedValue(spec.type()));
    if (!spec.enumValues().isEmpty()) {
      near.add(Arbitraries.of(spec.enumValues()));
    }
    for (Double bound : new Double[] {spec.min(), spec.max()}) {
      if (bound == null) {
        continue;
      }
      near.add(
          Arbitraries.of(
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
        near.add(Arbitraries.doubles().between(lo, hi).map(Object.class::cast));
        if (Math.ceil(lo) <= Math.floor(hi)) {
          near.add(
              Arbitraries.longs()
                  .between((long) Math.ceil(lo), (long) Math.floor(hi))
                  .map(Object.class::cast));
        }
      }
    }
    return Arbitraries.oneOf(near);
  }

  /**
   * Anything a JSON body can hold, as Jackson reads it (Integer, Long, BigInteger, Double; no
   * BigDecimal: the API does not read floats as BigDecimal), and Float for a careless caller.
   */
  static Arbitrary<Object> anyValue() {
    return Arbitraries.recursive(
        ParameterValidatorPropertyTest::scalars,
        inner ->
            Arbitraries.oneOf(
                inner.list().ofMaxSize(3).map(Object.class::cast),
                Arbitraries.maps(Arbitraries.strings().ofMaxLength(4), inner)
                    .ofMaxSize(3)
                    .map(Object.class::cast)),
        0,
        3);
  }

  private static Arbitrary<Object> scalars() {
    return Arbitraries.oneOf(
            strings(),
            paths(),
            Arbitraries.integers().map(Object.class::cast),
            Arbitraries.longs().map(Object.class::cast),
            Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, 9007199254740993L, -9007199254740993L)
                .map(Object.class::cast),
            Arbitraries.doubles().map(Object.class::cast),
            Arbitraries.of(
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
                    2.5)
                .map(Object.class::cast),
            Arbitraries.floats().map(Object.class::cast),
            Arbitraries.bigIntegers()
                .between(BigInteger.TEN.pow(30).negate(), BigInteger.TEN.pow(30))
                .map(Object.class::cast),
            Arbitraries.of(
                    BigInteger.TWO.pow(63),
                    BigInteger.TWO.pow(64).negate(),
                    new BigInteger("1" + "0".repeat(400)))
                .map(Object.class::cast),
            Arbitraries.of(true, false).map(Object.class::cast))
        .injectNull(0.05);
  }

  private static Arbitrary<Object> strings() {
    return Arbitraries.oneOf(
            Arbitraries.strings().all().ofMaxLength(30),
            Arbitraries.strings().withCharRange('\u0000', '\u001f').ofMaxLength(10),
            Arbitraries.integers().between(9_995, 10_005).map(n -> "é".repeat(n)),
            Arbitraries.of("", "\uD83D\uDE00", "\uD800", "${p0}", "{\"a\":1}", "null", "true"))
        .map(Object.class::cast);
  }

  private static Arbitrary<Object> paths() {
    return Arbitraries.oneOf(
            Arbitraries.strings().withChars("ab./_- \\:~").ofMinLength(1).ofMaxLength(16),
            Arbitraries.integers().between(505, 520).map(n -> "a".repeat(n)),
            Arbitraries.integers().between(250, 260).map(n -> "a/".repeat(n) + "b"),
            Arbitraries.of(
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
                "uploads/x.png\u0000.txt"))
        .map(Object.class::cast);
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
