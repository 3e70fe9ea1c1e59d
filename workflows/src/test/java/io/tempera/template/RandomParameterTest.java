package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A template's {@code "random": true} parameter (a seed): an integer without a default, drawn by
 * the API between its bounds when a request leaves it out; the parser refuses any other shape with
 * a sentence for the template's author.
 */
class RandomParameterTest {

  final ObjectMapper json = new ObjectMapper();
  @TempDir Path tmp;

  TemplateParser.Parsed parse(String seedSpec) throws IOException {
    Path dir = tmp.resolve("t" + System.nanoTime());
    Files.createDirectories(dir);
    Files.writeString(
        dir.resolve("graph.json"),
        """
        {"1": {"class_type": "KSampler", "inputs": {"seed": 0}}}
        """);
    Files.writeString(
        dir.resolve("template.json"),
        """
        {"id": "seeded", "version": "1.0.0", "display_name": "Seeded", "category": "generation",
         "backend": {"type": "comfyui", "graph": "graph.json"},
         "parameters": {"seed": %s},
         "parameter_mapping": [{"parameter": "seed", "target": "1.inputs.seed"}],
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
        """
            .formatted(seedSpec));
    return new TemplateParser(json).parse(dir.resolve("template.json"));
  }

  private static List<String> problems(TemplateParser.Parsed parsed) {
    return parsed.problems().stream().map(TemplateProblem::toString).toList();
  }

  @Test
  void aRandomIntegerWithoutDefaultIsDrawnBetweenItsBounds() throws IOException {
    TemplateParser.Parsed parsed = parse("{\"type\": \"integer\", \"random\": true}");
    assertThat(problems(parsed)).isEmpty();
    ParameterSpec seed = parsed.template().parameters().get("seed");
    assertThat(seed.random()).isTrue();
    assertThat(seed.hasDefault()).isFalse();
    assertThat(seed.randomLow()).isZero();
    assertThat(seed.randomHigh()).isEqualTo(ParameterSpec.RANDOM_MAX);

    ParameterSpec bounded =
        parse("{\"type\": \"integer\", \"random\": true, \"min\": -5.5, \"max\": 1e12}")
            .template()
            .parameters()
            .get("seed");
    assertThat(bounded.randomLow()).as("never below 0").isZero();
    assertThat(bounded.randomHigh()).as("never above 2^32-1").isEqualTo(ParameterSpec.RANDOM_MAX);
    ParameterSpec narrow =
        parse("{\"type\": \"integer\", \"random\": true, \"min\": 10.2, \"max\": 20.9}")
            .template()
            .parameters()
            .get("seed");
    assertThat(narrow.randomLow()).isEqualTo(11);
    assertThat(narrow.randomHigh()).isEqualTo(20);
    assertThat(parse("{\"type\": \"integer\"}").template().parameters().get("seed").random())
        .as("not random unless said")
        .isFalse();
  }

  @Test
  void otherShapesAreRefusedWithASentence() throws IOException {
    assertThat(problems(parse("{\"type\": \"string\", \"random\": true}")))
        .anySatisfy(
            p -> assertThat(p).contains("only an integer parameter (a seed) can be random"));
    assertThat(problems(parse("{\"type\": \"integer\", \"random\": true, \"default\": 0}")))
        .anySatisfy(p -> assertThat(p).contains("a random parameter has no default"));
    assertThat(problems(parse("{\"type\": \"integer\", \"random\": \"yes\"}")))
        .anySatisfy(p -> assertThat(p).contains("must be true or false"));
    assertThat(problems(parse("{\"type\": \"integer\", \"random\": true, \"enum\": [1, 2]}")))
        .anySatisfy(p -> assertThat(p).contains("cannot also be an enum"));
    assertThat(problems(parse("{\"type\": \"integer\", \"random\": true, \"max\": -1}")))
        .anySatisfy(p -> assertThat(p).contains("leave no integer"));
    assertThat(
            problems(
                parse("{\"type\": \"integer\", \"random\": true, \"min\": 1.2, \"max\": 1.8}")))
        .anySatisfy(p -> assertThat(p).contains("leave no integer"));
  }
}
