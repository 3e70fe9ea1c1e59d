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
import org.junit.jupiter.api.Test;

/**
 * The expression language and the translation of (template, tier, parameters) into the backend
 * payload: expressions parse or say why, evaluate to a scalar or say why; translation of valid
 * requests is deterministic, writes values of the declared types, and takes hostile strings as
 * string values only, never as structure. Seeded fuzz tests: see {@link Fuzz} for the seed, the
 * number of tries and a replay.
 */
class TemplateTranslationPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TemplateRegistry REGISTRY =
      new TemplateRegistry(Path.of("../templates"), JSON, 0);
  private static final TemplateTranslator TRANSLATOR = new TemplateTranslator(JSON);

  // ----- expressions

  record ExpressionSample(String source, List<Object> values) {
    @Override
    public String toString() {
      return shorten(source) + " with " + values;
    }
  }

  @Test
  void expressionsParseOrSayWhyAndEvaluateToAScalarOrSayWhy() {
    Fuzz.forAll(
        "expressionsParseOrSayWhyAndEvaluateToAScalarOrSayWhy",
        300,
        f -> new ExpressionSample(expressionText(f), scalarList(f)),
        s -> expressionsParseOrSayWhyAndEvaluateToAScalarOrSayWhy(s.source(), s.values()));
  }

  private static void expressionsParseOrSayWhyAndEvaluateToAScalarOrSayWhy(
      String source, List<Object> values) {
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

  static String expressionText(Fuzz f) {
    return switch (f.choice(6)) {
      case 0, 1, 2 -> f.expressionGrammar(4);
      case 3 -> f.expressionSoup();
      case 4 -> f.string("()+-*/%?:!&|<>=' .,0123456789abtier", 0, 30);
      default -> f.string(20);
    };
  }

  static List<Object> scalarList(Fuzz f) {
    return f.list(
        0,
        3,
        () ->
            f.orNull(
                0.1,
                () ->
                    switch (f.choice(6)) {
                      case 0 -> f.anyLong();
                      case 1 -> f.of(Long.MAX_VALUE, Long.MIN_VALUE, 0L, -1L);
                      case 2 -> {
                        double d = f.anyDouble();
                        yield Math.abs(d) <= 1e300 ? d : f.between(-1e300, 1e300);
                      }
                      case 3 -> f.of(0.0, -0.0, 1e308, Double.MIN_VALUE);
                      case 4 -> f.string(8);
                      default -> f.bool();
                    }));
  }

  // ----- translation of valid requests

  record ShippedRequest(FunctionTemplate template, QualityTier tier, Map<String, Object> params) {
    @Override
    public String toString() {
      return template.id() + " at " + tier + " <- " + params;
    }
  }

  @Test
  void validRequestsTranslateDeterministicallyToValuesOfTheDeclaredTypes() {
    Fuzz.forAll(
        "validRequestsTranslateDeterministicallyToValuesOfTheDeclaredTypes",
        300,
        TemplateTranslationPropertyTest::shippedRequest,
        TemplateTranslationPropertyTest
            ::validRequestsTranslateDeterministicallyToValuesOfTheDeclaredTypes);
  }

  private static void validRequestsTranslateDeterministicallyToValuesOfTheDeclaredTypes(
      ShippedRequest request) {
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
  static ShippedRequest shippedRequest(Fuzz f) {
    return until(f, r -> true);
  }

  /** Generates requests until one passes the validator and the filter. */
  private static ShippedRequest until(Fuzz f, java.util.function.Predicate<ShippedRequest> filter) {
    List<FunctionTemplate> templates = REGISTRY.functions();
    for (int attempt = 0; attempt < 10_000; attempt++) {
      FunctionTemplate template = f.of(templates);
      QualityTier tier = f.of(QualityTier.values());
      Map<String, Object> params = new LinkedHashMap<>();
      for (ParameterSpec spec : template.parameters().values()) {
        // left out (one time in four), or a valid value; null when nullable
        if (f.weighted(3, 1) == 0) {
          params.put(
              spec.name(),
              spec.nullable()
                  ? f.orNull(0.1, () -> validValue(f, spec, f::hostile))
                  : validValue(f, spec, f::hostile));
        }
      }
      ShippedRequest request = new ShippedRequest(template, tier, params);
      if (ParameterValidator.validate(template, params).isEmpty() && filter.test(request)) {
        return request;
      }
    }
    return fail("no valid request in 10000 attempts");
  }

  static Object validValue(Fuzz f, ParameterSpec spec, java.util.function.Supplier<String> text) {
    if (!spec.enumValues().isEmpty()) {
      return f.of(spec.enumValues());
    }
    double lo = spec.min() == null ? -1e12 : spec.min();
    double hi = spec.max() == null ? 1e12 : spec.max();
    return switch (spec.type()) {
      case "integer" -> f.between((long) Math.ceil(lo), (long) Math.floor(hi));
      case "number" -> f.bool() ? f.between(lo, hi) : f.of(lo, hi);
      case "boolean" -> f.bool();
      case "image" -> f.of("uploads/a.png", "uploads/my photo.png", "outputs/x-1_2.webp");
      default -> text.get();
    };
  }

  // ----- hostile strings

  record HostileSample(ShippedRequest request, String hostile) {
    @Override
    public String toString() {
      return request + " attacked with " + shorten(hostile);
    }
  }

  @Test
  void hostileStringsAreStringValuesNeverStructure() {
    Fuzz.forAll(
        "hostileStringsAreStringValuesNeverStructure",
        300,
        f -> new HostileSample(freeTextRequest(f), f.hostile()),
        s -> hostileStringsAreStringValuesNeverStructure(s.request(), s.hostile()));
  }

  private static void hostileStringsAreStringValuesNeverStructure(
      ShippedRequest request, String hostile) {
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

  static ShippedRequest freeTextRequest(Fuzz f) {
    return until(f, r -> !freeText(r.template()).isEmpty());
  }

  /** The string parameters without choices: where a person's words go. */
  private static List<String> freeText(FunctionTemplate template) {
    return template.parameters().values().stream()
        .filter(s -> s.type().equals("string") && s.enumValues().isEmpty())
        .map(ParameterSpec::name)
        .toList();
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
