package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExpressionAndMappingTest {

  final ObjectMapper json = new ObjectMapper();

  @Test
  void theExpressionLanguageComputesWithTypes() {
    Map<String, Object> v =
        Map.of("w", 512L, "scale", 1.5, "soft", true, "tier", "high", "name", "cat");
    assertThat(Expression.parse("w * 2").evaluate(v)).isEqualTo(1024L);
    assertThat(Expression.parse("w * scale").evaluate(v)).isEqualTo(768.0);
    assertThat(Expression.parse("round(w * scale / 100)").evaluate(v)).isEqualTo(8L);
    assertThat(Expression.parse("w / 2").evaluate(v)).isEqualTo(256.0);
    assertThat(Expression.parse("w % 5").evaluate(v)).isEqualTo(2L);
    assertThat(Expression.parse("min(w, 300, 1000)").evaluate(v)).isEqualTo(300L);
    assertThat(Expression.parse("floor(2.7) + ceil(2.1) + abs(-3)").evaluate(v)).isEqualTo(8L);
    assertThat(Expression.parse("tier == 'high' ? w : -w").evaluate(v)).isEqualTo(512L);
    assertThat(Expression.parse("!soft || w > 600").test(v)).isFalse();
    assertThat(Expression.parse("soft && (w >= 512) && name != 'dog'").test(v)).isTrue();
    assertThat(Expression.parse("'a ' + name").evaluate(v)).isEqualTo("a cat");
    assertThat(Expression.parse("(1 + 2) * 3 - -1").evaluate(v)).isEqualTo(10L);
    assertThat(Expression.parse("w * scale").names()).containsExactly("w", "scale");
  }

  @Test
  void badExpressionsSayWhereAndWhy() {
    assertThatThrownBy(() -> Expression.parse("w * (2 + 3")).hasMessageContaining("expected ')'");
    assertThatThrownBy(() -> Expression.parse("w ** 2")).hasMessageContaining("at position 4");
    assertThatThrownBy(() -> Expression.parse("system('rm')"))
        .hasMessageContaining("unknown function 'system'");
    assertThatThrownBy(() -> Expression.parse("1 / 0").evaluate(Map.of()))
        .hasMessageContaining("division by zero");
    assertThatThrownBy(() -> Expression.parse("'open")).hasMessageContaining("unterminated string");
    assertThatThrownBy(() -> Expression.parse("a < 'b'").evaluate(Map.of("a", 1L)))
        .hasMessageContaining("cannot compare");
  }

  @Test
  void lookupComputedAndConditionalMappingsShapeTheGraph() {
    FunctionTemplate framed =
        new TemplateRegistry(Path.of("../templates"), json, 0).find("framed-color").orElseThrow();
    TemplateTranslator translator = new TemplateTranslator(json);

    ObjectNode calm = translator.translate(framed, QualityTier.STANDARD, Map.of()).payload();
    assertThat(calm.at("/1/inputs/color").asLong()).isEqualTo(6266528);
    assertThat(calm.at("/1/inputs/width").asLong()).isEqualTo(256);
    assertThat(calm.at("/3/inputs/blur_radius").asLong()).isEqualTo(1);

    ObjectNode night =
        translator
            .translate(
                framed, QualityTier.HIGH, Map.of("mood", "night", "scale", 0.5, "soft", true))
            .payload();
    assertThat(night.at("/1/inputs/color").asLong()).isEqualTo(1579056);
    assertThat(night.at("/1/inputs/width").asLong()).isEqualTo(192);
    assertThat(night.at("/1/inputs/height").asLong()).isEqualTo(144);
    assertThat(night.at("/3/inputs/blur_radius").asLong()).isEqualTo(4);
    assertThat(night.at("/2/inputs/left").asLong()).isEqualTo(24);
  }

  @Test
  void mappingMistakesAreReportedAtLoad(@TempDir Path dir) throws IOException {
    record Case(String mapping, String path, String reason) {}
    List<Case> cases =
        List.of(
            new Case(
                "{\"parameter\":\"mood\",\"type\":\"lookup\",\"target\":\"1.inputs.color\",\"table\":{\"calm\":1}}",
                "$.parameter_mapping[0].table",
                "does not cover the enum values [warm]"),
            new Case(
                "{\"parameter\":\"scale\",\"type\":\"lookup\",\"target\":\"1.inputs.color\",\"table\":{\"1\":1}}",
                "$.parameter_mapping[0].table",
                "needs its parameter 'scale' to declare an enum"),
            new Case(
                "{\"type\":\"computed\",\"target\":\"1.inputs.width\",\"expression\":\"size * 2\"}",
                "$.parameter_mapping[0].expression",
                "names 'size', which is neither a parameter nor 'tier'"),
            new Case(
                "{\"type\":\"computed\",\"target\":\"1.inputs.width\",\"expression\":\"scale * \"}",
                "$.parameter_mapping[0].expression",
                "unexpected end"),
            new Case(
                "{\"type\":\"computed\",\"target\":\"1.inputs.width\"}",
                "$.parameter_mapping[0].expression",
                "required"),
            new Case(
                "{\"parameter\":\"scale\",\"type\":\"direct\",\"target\":\"1.inputs.width\",\"when\":\"loud ==\"}",
                "$.parameter_mapping[0].when",
                "unexpected end"),
            new Case(
                "{\"parameter\":\"scale\",\"type\":\"stretch\",\"target\":\"1.inputs.width\"}",
                "$.parameter_mapping[0].type",
                "must be direct, file_upload, lookup, computed or model_file"));
    for (Case c : cases) {
      Path folder = dir.resolve("t" + cases.indexOf(c));
      Files.createDirectories(folder);
      Files.writeString(
          folder.resolve("graph.json"),
          "{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":8,\"height\":8,\"batch_size\":1,\"color\":0}},"
              + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"x\"}}}");
      Files.writeString(
          folder.resolve("template.json"),
          """
          {"id":"t","version":"1","display_name":"T","backend":{"type":"comfyui","graph":"graph.json"},
           "parameters":{"mood":{"type":"string","enum":["calm","warm"]},"scale":{"type":"number","default":1}},
           "parameter_mapping":[%s],
           "quality_parameters":{"draft":{},"standard":{},"high":{},"ultra":{}}}\
          """
              .formatted(c.mapping()));
      TemplateParser.Parsed parsed =
          new TemplateParser(json).parse(folder.resolve("template.json"));
      assertThat(parsed.problems())
          .as(c.mapping())
          .anySatisfy(p -> {
            assertThat(p.path()).isEqualTo(c.path());
            assertThat(p.reason()).contains(c.reason());
          });
    }
  }
}
