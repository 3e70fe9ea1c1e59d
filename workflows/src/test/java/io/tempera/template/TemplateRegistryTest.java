package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.FileInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateRegistryTest {

  static final Path SHIPPED = Path.of("../templates");
  final ObjectMapper json = new ObjectMapper();

  @Test
  void theShippedTemplatesLoadWithoutProblems() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    assertThat(registry.problems()).isEmpty();
    assertThat(registry.functions())
        .extracting(FunctionTemplate::id)
        .contains("invert", "generate-pattern");
  }

  @Test
  void tiersChangeRealGraphValues() {
    FunctionTemplate pattern =
        new TemplateRegistry(SHIPPED, json, 0).find("generate-pattern").orElseThrow();
    TemplateTranslator translator = new TemplateTranslator(json);
    List<Integer> widths = new ArrayList<>(); // in tier order
    for (QualityTier tier : QualityTier.values()) {
      ObjectNode graph = translator.translate(pattern, tier, Map.of("color", 255)).payload();
      widths.add(graph.at("/1/inputs/width").asInt());
      assertThat(graph.at("/1/inputs/color").asLong()).isEqualTo(255);
      assertThat(graph.at("/3/inputs/blur_radius").asInt()).isEqualTo(4); // default applied
    }
    assertThat(widths).containsExactly(256, 512, 768, 1024);
    // the template's own graph is never modified
    assertThat(pattern.graph().at("/1/inputs/color").asLong()).isEqualTo(3355443);
  }

  @Test
  void fileParametersBecomeUploadsForTheBackend() {
    FunctionTemplate invert = new TemplateRegistry(SHIPPED, json, 0).find("invert").orElseThrow();
    TemplateTranslator.Translation t =
        new TemplateTranslator(json)
            .translate(invert, QualityTier.DRAFT, Map.of("image", "uploads/a.png"));
    assertThat(t.fileInputs())
        .containsExactly(new FileInput("image", "uploads/a.png", "1", "image"));
    assertThat(t.payload().at("/3/inputs/scale_by").asDouble()).isEqualTo(0.5);
  }

  @Test
  void unknownTiersFallBackToStandardWithAWarning() {
    assertThat(QualityTier.resolve("cinematic").tier()).isEqualTo(QualityTier.STANDARD);
    assertThat(QualityTier.resolve("cinematic").warning()).contains("cinematic");
    assertThat(QualityTier.resolve("low").tier()).isEqualTo(QualityTier.DRAFT);
    assertThat(QualityTier.resolve("premium").tier()).isEqualTo(QualityTier.ULTRA);
    assertThat(QualityTier.resolve(null).warning()).isNull();
  }

  @Test
  void requestsAreCheckedAgainstTheTemplateListingEveryProblem() {
    FunctionTemplate pattern =
        new TemplateRegistry(SHIPPED, json, 0).find("generate-pattern").orElseThrow();
    List<RequestProblem> problems =
        ParameterValidator.validate(
            pattern, Map.of("color", "red", "blur", 99, "size", 3, "border", 1.5));
    assertThat(problems)
        .extracting(RequestProblem::field)
        .containsExactlyInAnyOrder(
            "parameters.size", "parameters.color", "parameters.blur", "parameters.border");
    assertThat(problems)
        .extracting(RequestProblem::code)
        .containsExactlyInAnyOrder(
            "UNKNOWN_PARAMETER", "INVALID_PARAMETER", "INVALID_PARAMETER", "INVALID_PARAMETER");
    assertThat(ParameterValidator.validate(pattern, Map.of("color", 0))).isEmpty();

    FunctionTemplate invert = new TemplateRegistry(SHIPPED, json, 0).find("invert").orElseThrow();
    assertThat(ParameterValidator.validate(invert, Map.of()))
        .extracting(RequestProblem::code)
        .containsExactly("MISSING_PARAMETER");
    assertThat(ParameterValidator.validate(invert, Map.of("image", "../../etc/passwd")))
        .extracting(RequestProblem::code)
        .containsExactly("INVALID_PARAMETER");
    assertThat(ParameterValidator.validate(invert, Map.of("image", "/etc/passwd"))).hasSize(1);
  }

  @Test
  void aBrokenTemplateIsReportedAndSkippedWithoutHidingTheOthers(@TempDir Path dir)
      throws IOException {
    copy(SHIPPED.resolve("functions/invert"), dir.resolve("invert"));
    Path broken = dir.resolve("broken");
    copy(SHIPPED.resolve("functions/invert"), broken);
    Files.writeString(
        broken.resolve("template.json"),
        Files.readString(broken.resolve("template.json"))
            .replace("\"id\": \"invert\"", "\"id\": \"broken\"")
            .replace("1.inputs.image", "9.inputs.image"));

    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);

    assertThat(registry.functions()).extracting(FunctionTemplate::id).containsExactly("invert");
    assertThat(registry.problems())
        .singleElement()
        .satisfies(p -> {
          assertThat(p.file()).endsWith("broken/template.json");
          assertThat(p.path()).isEqualTo("$.parameter_mapping[0].target");
          assertThat(p.reason()).isEqualTo("graph has no node '9'");
        });
  }

  @Test
  void commonAuthorMistakesGiveSpecificErrors(@TempDir Path dir) throws IOException {
    record Case(String from, String to, String path, String reason) {}
    List<Case> cases =
        List.of(
            new Case("\"id\": \"invert\"", "\"id\": \"Invert Me\"", "$.id", "must be lowercase"),
            new Case("\"version\": \"1.0.0\",", "", "$.version", "required"),
            new Case(
                "\"type\": \"comfyui\"",
                "\"type\": \"kubeflow\"",
                "$.backend.type",
                "not supported"),
            new Case(
                "invert.graph.json", "missing.graph.json", "$.backend.graph", "cannot be read"),
            new Case(
                "invert.graph.json", "../../etc/passwd", "$.backend.graph", "must stay inside"),
            new Case(
                "\"type\": \"image\"",
                "\"type\": \"picture\"",
                "$.parameters.image.type",
                "must be one of"),
            new Case(
                "\"type\": \"file_upload\"",
                "\"type\": \"direct\"",
                "$.parameter_mapping[0].type",
                "file_upload is for image"),
            new Case(
                "1.inputs.image",
                "1.inputs.picture",
                "$.parameter_mapping[0].target",
                "has no input 'picture'"),
            new Case(
                "1.inputs.image", "1.image", "$.parameter_mapping[0].target", "must look like"),
            new Case(
                "\"parameter\": \"image\"",
                "\"parameter\": \"img\"",
                "$.parameter_mapping[0].parameter",
                "names no declared parameter"),
            new Case("\"ultra\":", "\"extreme\":", "$.quality_parameters.extreme", "unknown tier"),
            new Case(
                "\"timeout_seconds\": 300",
                "\"timeout_seconds\": -5",
                "$.timeout_seconds",
                "whole number"),
            new Case("\"category\"", "\"categroy\"", "$.categroy", "unknown key"),
            new Case("{\n  \"id\"", "[\n  \"id\"", "$", "not valid JSON"));
    for (Case c : cases) {
      Path fn = dir.resolve("case");
      copy(SHIPPED.resolve("functions/invert"), fn);
      Path template = fn.resolve("template.json");
      String original = Files.readString(template);
      assertThat(original).as(c.from()).contains(c.from());
      Files.writeString(template, original.replace(c.from(), c.to()));
      TemplateParser.Parsed parsed = new TemplateParser(json).parse(template);
      assertThat(parsed.ok()).as(c.to()).isFalse();
      assertThat(parsed.problems())
          .as(c.to())
          .anySatisfy(p -> {
            assertThat(p.path()).isEqualTo(c.path());
            assertThat(p.reason()).contains(c.reason());
          });
    }
  }

  @Test
  void editsToTheFolderAreSeenWithoutARestart(@TempDir Path dir) throws IOException {
    copy(SHIPPED.resolve("functions/invert"), dir.resolve("invert"));
    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);
    assertThat(registry.find("invert").orElseThrow().version()).isEqualTo("1.0.0");

    Path v2 = dir.resolve("invert-v2");
    copy(SHIPPED.resolve("functions/invert"), v2);
    Path file = v2.resolve("template.json");
    Files.writeString(
        file, Files.readString(file).replace("\"version\": \"1.0.0\"", "\"version\": \"1.10.0\""));
    Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5_000));

    assertThat(registry.find("invert").orElseThrow().version()).isEqualTo("1.10.0");
    assertThat(registry.find("invert", "1.0.0")).isPresent();
  }

  /** Copies a function folder, and the model registry its tiers refer to beside it. */
  static void copy(Path from, Path to) throws IOException {
    if (from.getParent().getFileName().toString().equals("functions")) {
      copyFiles(SHIPPED.resolve("models"), to.getParent().resolve("models"));
    }
    copyFiles(from, to);
  }

  static void copyFiles(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (var files = Files.list(from)) {
      for (Path f : files.toList()) {
        Files.copy(
            f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }
}
