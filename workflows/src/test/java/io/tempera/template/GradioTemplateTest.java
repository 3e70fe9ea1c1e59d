package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.FileInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Templates with {"backend": {"type": "gradio", "api_name": …}}: parsing and translation to named
 * inputs.
 */
class GradioTemplateTest {

  final ObjectMapper json = new ObjectMapper();
  @TempDir Path tmp;

  TemplateParser.Parsed parse(String template) throws IOException {
    Path file = tmp.resolve("t" + System.nanoTime()).resolve("template.json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, template);
    return new TemplateParser(json).parse(file);
  }

  static final String PAINT =
      """
      {"id":"paint","version":"1","display_name":"Paint","backend":{"type":"gradio","api_name":"generate"},
       "parameters":{"prompt":{"type":"string","required":true},"size":{"type":"integer","default":32},
         "mood":{"type":"string","enum":["calm","wild"],"default":"calm"},"init":{"type":"image"}},
       "parameter_mapping":[{"parameter":"mood","type":"lookup","table":{"calm":0.2,"wild":0.9},"target":"strength"},
         {"type":"computed","expression":"size * 2","target":"3"},{"parameter":"init","type":"file_upload","target":"image"}],
       "quality_parameters":{"draft":{"steps":2},"standard":{"steps":4},"high":{"steps":8},"ultra":{"steps":16}}}\
      """;

  @Test
  void tierValuesMappingsAndUnmappedParametersBecomeNamedOrPositionalInputs() throws IOException {
    TemplateParser.Parsed parsed = parse(PAINT);
    assertThat(parsed.problems()).isEmpty();
    FunctionTemplate template = parsed.template();
    assertThat(template.backendType()).isEqualTo("gradio");

    TemplateTranslator.Translation t =
        new TemplateTranslator(json)
            .translate(
                template,
                QualityTier.HIGH,
                Map.of("prompt", "fox", "mood", "wild", "init", "uploads/a.png"));

    ObjectNode payload = t.payload();
    assertThat(payload.get("api_name").asText()).isEqualTo("/generate");
    assertThat(payload.get("inputs").toString())
        .isEqualTo("{\"steps\":8,\"strength\":0.9,\"3\":64,\"prompt\":\"fox\",\"size\":32}");
    assertThat(t.fileInputs())
        .containsExactly(
            new FileInput("init", "uploads/a.png", TemplateParser.GRADIO_NODE, "image"));
    assertThat(template.graph().get("inputs").isEmpty())
        .as("the template itself is not changed")
        .isTrue();
  }

  @Test
  void unmappedImagesGoUpUnderTheirOwnName() throws IOException {
    TemplateParser.Parsed parsed =
        parse(
            """
            {"id":"inv","version":"1","display_name":"Invert","backend":{"type":"gradio","api_name":"/invert"},
             "parameters":{"image":{"type":"image","required":true}},
             "quality_parameters":{"draft":{},"standard":{},"high":{},"ultra":{}}}\
            """);
    assertThat(parsed.problems()).isEmpty();
    TemplateTranslator.Translation t =
        new TemplateTranslator(json)
            .translate(parsed.template(), QualityTier.DRAFT, Map.of("image", "uploads/x.png"));
    assertThat(t.payload().get("inputs").isEmpty()).isTrue();
    assertThat(t.fileInputs())
        .containsExactly(
            new FileInput("image", "uploads/x.png", TemplateParser.GRADIO_NODE, "image"));
  }

  @Test
  void badGradioTemplatesAreReportedWithPathAndReason() throws IOException {
    List<TemplateProblem> problems =
        parse(
                """
                {"id":"bad","version":"1","display_name":"Bad","backend":{"type":"gradio","graph":"x.json"},
                 "parameters":{"p":{"type":"string"}},
                 "parameter_mapping":[{"parameter":"p","target":"1.inputs.text"}],
                 "quality_parameters":{"draft":{"bad key":1},"standard":{},"high":{},"ultra":{}}}\
                """)
            .problems();
    assertThat(problems)
        .extracting(TemplateProblem::path)
        .contains(
            "$.backend.graph",
            "$.backend.api_name",
            "$.parameter_mapping[0].target",
            "$.quality_parameters.draft.bad key");
    assertThat(problems)
        .anySatisfy(p -> assertThat(p.reason()).contains("parameter name of the Gradio endpoint"));
  }
}
