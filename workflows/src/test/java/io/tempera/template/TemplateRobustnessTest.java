package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cases the property tests (TemplateParserFuzzPropertyTest, TemplateTranslationPropertyTest) found.
 */
class TemplateRobustnessTest {

  final ObjectMapper json = new ObjectMapper();

  @Test
  void deeplyNestedOrHugeExpressionsAreProblemsNotStackOverflows() {
    String parens = "(".repeat(5_000) + "1" + ")".repeat(5_000);
    assertThatThrownBy(() -> Expression.parse(parens))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("nested too deeply (at most 64 levels)");
    assertThatThrownBy(() -> Expression.parse("-".repeat(20_000) + "1"))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("nested too deeply");
    assertThatThrownBy(() -> Expression.parse("1 ? ".repeat(100) + "1" + " : 0".repeat(100)))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("nested too deeply");
    // a chain parses without recursion but evaluates recursively: its length is bounded too
    assertThatThrownBy(() -> Expression.parse("1" + " + 1".repeat(20_000)))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("too long (at most 500 operations)");
    // what templates write stays well inside the limits
    assertThat(Expression.parse("(".repeat(60) + "1" + ")".repeat(60)).evaluate(Map.of()))
        .isEqualTo(1L);
    assertThat(Expression.parse("1" + " + 1".repeat(499)).evaluate(Map.of())).isEqualTo(500L);
  }

  @Test
  void aComputedValueIsAFiniteNumber() {
    assertThatThrownBy(() -> Expression.parse("a * a").evaluate(Map.of("a", 1e308)))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("too large a number");
    assertThatThrownBy(() -> Expression.parse("1" + "0".repeat(400) + ".0"))
        .isInstanceOf(Expression.ExpressionException.class)
        .hasMessageContaining("bad number");
    assertThat(Expression.parse("a * 2").evaluate(Map.of("a", 1e300))).isEqualTo(2e300);
  }

  @Test
  void aNullInAnEnumIsAProblemNotANullPointerException(@TempDir Path dir) throws IOException {
    Path file =
        write(
            dir,
            "\"parameters\": {\"mood\": {\"type\": \"string\", \"enum\": [null, \"calm\"], \"default\": \"calm\"}}");
    TemplateParser.Parsed parsed = new TemplateParser(json).parse(file);
    assertThat(parsed.ok()).isFalse();
    assertThat(parsed.problems())
        .extracting(TemplateProblem::path, TemplateProblem::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "$.parameters.mood.enum", "value null is not a string"));
  }

  @Test
  void wholeNumbersBeyondTheirTypeAreRefusedNotWrapped(@TempDir Path dir) throws IOException {
    Path file =
        write(
            dir,
            "\"variants\": [{\"name\": \"a\", \"weight\": 4294967297}, {\"name\": \"b\", \"weight\": 1}],"
                + " \"tiers\": {\"draft\": {\"steps\": 18446744073709551617}},"
                + " \"timeouts\": {\"stall_seconds\": 18446744073709551617}");
    TemplateParser.Parsed parsed = new TemplateParser(json).parse(file);
    assertThat(parsed.problems())
        .extracting(TemplateProblem::path)
        .containsExactlyInAnyOrder(
            "$.variants[0].weight", "$.tiers.draft.steps", "$.timeouts.stall_seconds");
  }

  private static Path write(Path dir, String extra) throws IOException {
    Files.writeString(
        dir.resolve("graph.json"),
        "{\"1\": {\"class_type\": \"EmptyImage\", \"inputs\": {\"width\": 64}}}");
    Path file = dir.resolve("template.json");
    Files.writeString(
        file,
        "{\"id\": \"t\", \"version\": \"1.0.0\", \"display_name\": \"T\","
            + " \"backend\": {\"type\": \"comfyui\", \"graph\": \"graph.json\"},"
            + " \"quality_parameters\": {\"draft\": {}, \"standard\": {}, \"high\": {}, \"ultra\": {}},"
            + extra
            + "}");
    return file;
  }
}
