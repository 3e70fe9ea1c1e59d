package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.FileInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the request's values, the tier's values and the parameters' defaults combine, on every
 * backend: the request beats the tier, the tier beats a default, a default fills only what neither
 * sets; a nullable parameter's null is sent as null; an optional parameter left out is not sent.
 */
class ValuePrecedenceTest {

  final ObjectMapper json = new ObjectMapper();
  final TemplateTranslator translator = new TemplateTranslator(json);
  @TempDir Path tmp;

  FunctionTemplate parse(String template, String graph) throws IOException {
    Path dir = tmp.resolve("t" + System.nanoTime());
    Files.createDirectories(dir);
    if (graph != null) {
      Files.writeString(dir.resolve("graph.json"), graph);
    }
    Files.writeString(dir.resolve("template.json"), template);
    TemplateParser.Parsed parsed = new TemplateParser(json).parse(dir.resolve("template.json"));
    assertThat(parsed.problems()).isEmpty();
    return parsed.template();
  }

  /** A map that keeps nulls, as a request's JSON parameters do. */
  static Map<String, Object> params(Object... pairs) {
    Map<String, Object> out = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      out.put((String) pairs[i], pairs[i + 1]);
    }
    return out;
  }

  // ---- ComfyUI

  static final String GRAPH =
      """
      {"1": {"class_type": "Sampler", "inputs": {"steps": 1, "cfg": 7.0, "seed": 12345,
              "text": "graph text", "mode": "graph mode", "denoise": 1.0}}}
      """;

  static final String COMFY =
      """
      {"id": "sampler", "version": "1", "display_name": "Sampler",
       "backend": {"type": "comfyui", "graph": "graph.json"},
       "parameters": {
         "steps": {"type": "integer", "default": 20},
         "scale": {"type": "number", "default": 1.0},
         "seed": {"type": "integer"},
         "negative": {"type": "string", "nullable": true, "default": "blurry"},
         "mode": {"type": "string", "enum": ["fast", "fine"], "nullable": true, "default": null},
         "strength": {"type": "number", "default": 0.5}},
       "parameter_mapping": [
         {"parameter": "steps", "target": "1.inputs.steps"},
         {"type": "computed", "expression": "scale * 7", "target": "1.inputs.cfg"},
         {"parameter": "seed", "target": "1.inputs.seed"},
         {"parameter": "negative", "target": "1.inputs.text"},
         {"parameter": "mode", "type": "lookup", "table": {"fast": "euler", "fine": "dpmpp"},
          "target": "1.inputs.mode"},
         {"parameter": "strength", "target": "1.inputs.denoise"}],
       "quality_parameters": {
         "draft": {"1.inputs.steps": 4, "1.inputs.cfg": 3.0},
         "standard": {}, "high": {}, "ultra": {"1.inputs.denoise": 0.9}},
       "variants": [{"name": "a", "weight": 1},
                    {"name": "b", "weight": 1, "quality_parameters": {"standard": {"1.inputs.steps": 9}}}]}
      """;

  JsonNode comfy(FunctionTemplate t, QualityTier tier, Map<String, Object> parameters) {
    return translator.translate(t, tier, parameters).payload().at("/1/inputs");
  }

  @Test
  void onComfyUiTheRequestBeatsTheTierAndTheTierBeatsADefault() throws IOException {
    FunctionTemplate t = parse(COMFY, GRAPH);

    JsonNode draft = comfy(t, QualityTier.DRAFT, params());
    assertThat(draft.get("steps").asLong()).as("the tier's value, not the default 20").isEqualTo(4);
    assertThat(draft.get("cfg").asDouble())
        .as("a computed value from defaults alone yields to the tier too")
        .isEqualTo(3.0);
    assertThat(draft.get("denoise").asDouble()).as("no tier value: the default").isEqualTo(0.5);

    JsonNode asked = comfy(t, QualityTier.DRAFT, params("steps", 9, "scale", 2.0));
    assertThat(asked.get("steps").asLong()).as("the request's value").isEqualTo(9);
    assertThat(asked.get("cfg").asDouble())
        .as("computed from a parameter the request gives")
        .isEqualTo(14.0);

    JsonNode standard = comfy(t, QualityTier.STANDARD, params());
    assertThat(standard.get("steps").asLong()).as("no tier value: the default").isEqualTo(20);
    assertThat(standard.get("cfg").asDouble()).isEqualTo(7.0);

    JsonNode ultra = comfy(t, QualityTier.ULTRA, params("strength", 0.25));
    assertThat(ultra.get("denoise").asDouble()).isEqualTo(0.25);
    assertThat(comfy(t, QualityTier.ULTRA, params()).get("denoise").asDouble()).isEqualTo(0.9);
  }

  @Test
  void anABVariantsValueCountsAsTheTiers() throws IOException {
    FunctionTemplate t = parse(COMFY, GRAPH);
    Variant b = t.variants().get(1);
    String project = null;
    for (int i = 0; project == null; i++) {
      if (TemplateTranslator.variantFor(t, "p" + i) == b) {
        project = "p" + i;
      }
    }
    ObjectNode graph = translator.translate(t, QualityTier.STANDARD, params(), project).payload();
    assertThat(graph.at("/1/inputs/steps").asLong()).isEqualTo(9);
    graph = translator.translate(t, QualityTier.STANDARD, params("steps", 30), project).payload();
    assertThat(graph.at("/1/inputs/steps").asLong()).isEqualTo(30);
  }

  @Test
  void onComfyUiNullsAreWrittenAndAnOptionalParameterLeftOutWritesNothing() throws IOException {
    FunctionTemplate t = parse(COMFY, GRAPH);

    JsonNode left = comfy(t, QualityTier.STANDARD, params());
    assertThat(left.get("seed").asLong())
        .as("seed: optional, no default, left out: the graph's own value stays")
        .isEqualTo(12345);
    assertThat(left.get("text").asText()).as("a nullable parameter's default").isEqualTo("blurry");
    assertThat(left.get("mode").isNull()).as("a null default is written as null").isTrue();

    JsonNode nulls = comfy(t, QualityTier.STANDARD, params("negative", null, "mode", null));
    assertThat(nulls.has("text") && nulls.get("text").isNull()).isTrue();
    assertThat(nulls.get("mode").isNull())
        .as("a lookup's null is null, not a table entry")
        .isTrue();

    JsonNode given = comfy(t, QualityTier.STANDARD, params("seed", 7, "mode", "fine"));
    assertThat(given.get("seed").asLong()).isEqualTo(7);
    assertThat(given.get("mode").asText()).isEqualTo("dpmpp");
  }

  // ---- Gradio: {"api_name", "inputs": {target: value}}

  static final String GRADIO =
      """
      {"id": "paint", "version": "1", "display_name": "Paint",
       "backend": {"type": "gradio", "api_name": "/generate"},
       "parameters": {
         "prompt": {"type": "string", "required": true},
         "steps": {"type": "integer", "default": 30},
         "size": {"type": "integer", "default": 256},
         "quality": {"type": "number", "default": 5.0},
         "seed": {"type": "integer"},
         "negative": {"type": "string", "nullable": true},
         "init": {"type": "image", "nullable": true}},
       "parameter_mapping": [{"parameter": "quality", "target": "guidance"}],
       "quality_parameters": {
         "draft": {"steps": 2, "guidance": 1.5},
         "standard": {}, "high": {"steps": 10}, "ultra": {}}}
      """;

  String gradio(FunctionTemplate t, QualityTier tier, Map<String, Object> parameters) {
    return translator.translate(t, tier, parameters).payload().toString();
  }

  @Test
  void onGradioTheRequestBeatsTheTierAndTheTierBeatsADefault() throws IOException {
    FunctionTemplate t = parse(GRADIO, null);

    assertThat(gradio(t, QualityTier.DRAFT, params("prompt", "fox")))
        .as("the tier's steps and guidance, not the defaults 30 and 5.0; seed not sent")
        .isEqualTo(
            "{\"api_name\":\"/generate\",\"inputs\":{\"steps\":2,\"guidance\":1.5,\"prompt\":\"fox\",\"size\":256}}");
    assertThat(gradio(t, QualityTier.DRAFT, params("prompt", "fox", "steps", 7, "quality", 9.0)))
        .as("the request's values beat the tier's")
        .isEqualTo(
            "{\"api_name\":\"/generate\",\"inputs\":{\"steps\":7,\"guidance\":9.0,\"prompt\":\"fox\",\"size\":256}}");
    assertThat(gradio(t, QualityTier.STANDARD, params("prompt", "fox")))
        .as("no tier value: the defaults")
        .isEqualTo(
            "{\"api_name\":\"/generate\",\"inputs\":{\"guidance\":5.0,\"prompt\":\"fox\",\"steps\":30,\"size\":256}}");
    assertThat(gradio(t, QualityTier.HIGH, params("prompt", "fox", "seed", 42)))
        .isEqualTo(
            "{\"api_name\":\"/generate\",\"inputs\":{\"steps\":10,\"guidance\":5.0,\"prompt\":\"fox\",\"size\":256,\"seed\":42}}");
  }

  @Test
  void onGradioANullIsSentAsNullAndAnOptionalParameterLeftOutIsNotSent() throws IOException {
    FunctionTemplate t = parse(GRADIO, null);
    TemplateTranslator.Translation left =
        translator.translate(t, QualityTier.STANDARD, params("prompt", "fox"));
    assertThat(left.payload().get("inputs").has("negative")).isFalse();
    assertThat(left.payload().get("inputs").has("seed")).isFalse();
    assertThat(left.payload().get("inputs").has("init")).isFalse();
    assertThat(left.fileInputs()).isEmpty();

    TemplateTranslator.Translation nulls =
        translator.translate(
            t, QualityTier.STANDARD, params("prompt", "fox", "negative", null, "init", null));
    assertThat(nulls.payload().toString())
        .isEqualTo(
            "{\"api_name\":\"/generate\",\"inputs\":{\"guidance\":5.0,\"prompt\":\"fox\",\"steps\":30,\"size\":256,\"negative\":null,\"init\":null}}");
    assertThat(nulls.fileInputs()).as("a null image uploads nothing").isEmpty();

    TemplateTranslator.Translation image =
        translator.translate(
            t, QualityTier.STANDARD, params("prompt", "fox", "init", "uploads/a.png"));
    assertThat(image.fileInputs())
        .containsExactly(
            new FileInput("init", "uploads/a.png", TemplateParser.GRADIO_NODE, "init"));
  }

  // ---- script

  @Test
  void aScriptsParametersFollowTheSameOrder() throws IOException {
    FunctionTemplate t =
        parse(
            """
            {"id": "gradient", "version": "1", "display_name": "Gradient",
             "backend": {"type": "script", "command": ["python3", "g.py"]},
             "parameters": {"size": {"type": "integer", "default": 64},
                            "top": {"type": "integer", "default": 1},
                            "label": {"type": "string", "nullable": true},
                            "seed": {"type": "integer"}},
             "quality_parameters": {"draft": {"size": 128}, "standard": {}, "high": {}, "ultra": {}}}
            """,
            null);
    JsonNode draft = translator.translate(t, QualityTier.DRAFT, params()).payload();
    assertThat(draft.get("parameters").toString()).isEqualTo("{\"size\":128,\"top\":1}");
    assertThat(draft.at("/tier/size").asLong()).isEqualTo(128);
    JsonNode asked =
        translator
            .translate(t, QualityTier.DRAFT, params("size", 32, "label", null, "seed", 3))
            .payload();
    assertThat(asked.get("parameters").toString())
        .isEqualTo("{\"size\":32,\"top\":1,\"label\":null,\"seed\":3}");
    JsonNode standard = translator.translate(t, QualityTier.STANDARD, params()).payload();
    assertThat(standard.get("parameters").toString()).isEqualTo("{\"size\":64,\"top\":1}");
  }

  // ---- requests and templates

  @Test
  void aNullIsAcceptedOnlyForANullableParameter() throws IOException {
    FunctionTemplate t = parse(GRADIO, null);
    assertThat(ParameterValidator.validate(t, params("prompt", "fox", "negative", null))).isEmpty();
    List<RequestProblem> problems =
        ParameterValidator.validate(t, params("prompt", null, "size", null, "seed", null));
    assertThat(problems)
        .extracting(RequestProblem::field, RequestProblem::code, RequestProblem::message)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple(
                "parameters.prompt",
                "NULL_NOT_ALLOWED",
                "'prompt' is required and cannot be null: give a string"),
            org.assertj.core.groups.Tuple.tuple(
                "parameters.size",
                "NULL_NOT_ALLOWED",
                "'size' cannot be null: give a whole number, or leave it out to use its default"
                    + " 256"),
            org.assertj.core.groups.Tuple.tuple(
                "parameters.seed",
                "NULL_NOT_ALLOWED",
                "'seed' cannot be null: give a whole number, or leave it out to use the default"
                    + " of the function's backend"));
    assertThat(ParameterValidator.validate(t, params()))
        .extracting(RequestProblem::code)
        .containsExactly("MISSING_PARAMETER");
  }

  @Test
  void aRequiredNullableParameterMustBeGivenButMayBeNull() throws IOException {
    FunctionTemplate t =
        parse(
            """
            {"id": "x", "version": "1", "display_name": "X",
             "backend": {"type": "gradio", "api_name": "/x"},
             "parameters": {"mask": {"type": "image", "required": true, "nullable": true}},
             "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
            """,
            null);
    assertThat(ParameterValidator.validate(t, params("mask", null))).isEmpty();
    assertThat(ParameterValidator.validate(t, params()))
        .extracting(RequestProblem::code)
        .containsExactly("MISSING_PARAMETER");
  }

  @Test
  void nullableAndNullDefaultsAreCheckedAtLoad() throws IOException {
    Path dir = tmp.resolve("bad");
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("template.json"),
        """
        {"id": "bad", "version": "1", "display_name": "Bad",
         "backend": {"type": "gradio", "api_name": "/x"},
         "parameters": {"a": {"type": "string", "default": null},
                        "b": {"type": "string", "nullable": "yes"},
                        "c": {"type": "integer", "nullable": false, "default": null}},
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
        """);
    List<TemplateProblem> problems =
        new TemplateParser(json).parse(dir.resolve("template.json")).problems();
    assertThat(problems)
        .extracting(TemplateProblem::path)
        .containsExactlyInAnyOrder(
            "$.parameters.a.default", "$.parameters.b.nullable", "$.parameters.c.default");
    assertThat(problems.get(0).reason()).contains("\"nullable\": true");

    FunctionTemplate t = parse(COMFY, GRAPH);
    ParameterSpec mode = t.parameters().get("mode");
    assertThat(mode.nullable()).isTrue();
    assertThat(mode.hasDefault()).isTrue();
    assertThat(mode.defaultValue()).isNull();
    assertThat(t.parameters().get("seed").hasDefault()).isFalse();
    assertThat(t.parameters().get("steps").nullable()).isFalse();
  }
}
