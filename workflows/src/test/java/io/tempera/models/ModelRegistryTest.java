package io.tempera.models;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.QualityTier;
import io.tempera.template.TemplateProblem;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TierConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model registry: entries as files, checked alone and together, referenced by template tiers.
 */
class ModelRegistryTest {

  static final Path SHIPPED = Path.of("../templates");
  final ObjectMapper json = new ObjectMapper();

  @Test
  void theShippedModelsLoadAndInvertsUltraTierRunsOnTheTestkitContainer() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    assertThat(registry.problems()).isEmpty();
    ModelSpec testkit = registry.model("testkit-comfyui").orElseThrow();
    assertThat(testkit.containerised()).isTrue();
    assertThat(testkit.image()).isEqualTo("tempera/testkit-comfyui:test");
    assertThat(testkit.port()).isEqualTo(8188);
    assertThat(testkit.healthPath()).isEqualTo("/system_stats");
    assertThat(testkit.fallback()).isEqualTo("comfyui-endpoints");
    assertThat(registry.model("comfyui-endpoints").orElseThrow().containerised()).isFalse();

    FunctionTemplate invert = registry.find("invert").orElseThrow();
    assertThat(registry.model(invert, QualityTier.ULTRA)).contains(testkit);
    assertThat(registry.model(invert, QualityTier.STANDARD)).isEmpty();
    // the tier needs what its model needs
    assertThat(invert.tierConfigs().get(QualityTier.ULTRA).vramMb()).isEqualTo(testkit.vramMb());
  }

  @Test
  void defaultsFollowTheBackend(@TempDir Path dir) throws IOException {
    write(
        dir,
        "g",
        """
        {"id": "g", "backend": "gradio", "vram_mb": 100, "container": {"image": "x/y:1"}}\
        """);
    ModelSpec g = ModelCatalog.load(dir.resolve("models"), json).models().get("g");
    assertThat(g.port()).isEqualTo(7860);
    assertThat(g.healthPath()).isEqualTo("/config");
    assertThat(g.startTimeoutSeconds()).isEqualTo(60);
    assertThat(g.command()).isEmpty();
  }

  @Test
  void mistakesAreReportedWithFilePathAndReasonAndSkipOnlyTheirEntry(@TempDir Path dir)
      throws IOException {
    record Case(String id, String content, String path, String reason) {}
    List<Case> cases =
        List.of(
            new Case(
                "a", "{\"id\": \"a\", \"backend\": \"kubeflow\"}", "$.backend", "must be one of"),
            new Case(
                "b",
                "{\"id\": \"other\", \"backend\": \"comfyui\"}",
                "$.id",
                "must match the file name"),
            new Case(
                "c",
                "{\"id\": \"c\", \"backend\": \"comfyui\", \"vram_mb\": -1}",
                "$.vram_mb",
                "whole number"),
            new Case(
                "d",
                "{\"id\": \"d\", \"backend\": \"comfyui\", \"container\": {}}",
                "$.container.image",
                "required"),
            new Case(
                "e",
                "{\"id\": \"e\", \"backend\": \"comfyui\", \"container\": {\"image\": \"x\", \"port\": 70000}}",
                "$.container.port",
                "whole number"),
            new Case(
                "f",
                "{\"id\": \"f\", \"backend\": \"comfyui\", \"container\": {\"image\": \"x\", \"health_path\": \"health\"}}",
                "$.container.health_path",
                "starting with '/'"),
            new Case(
                "g",
                "{\"id\": \"g\", \"backend\": \"comfyui\", \"container\": {\"image\": \"x\", \"env\": {\"A-B\": \"1\"}}}",
                "$.container.env.A-B",
                "not a valid environment variable name"),
            new Case(
                "h",
                "{\"id\": \"h\", \"backend\": \"comfyui\", \"gpu\": 1}",
                "$.gpu",
                "unknown key"),
            new Case(
                "i",
                "{\"id\": \"i\", \"backend\": \"comfyui\", \"container\": {\"image\": \"x\", \"cmd\": []}}",
                "$.container.cmd",
                "unknown key"),
            new Case(
                "j",
                "{\"id\": \"j\", \"backend\": \"comfyui\", \"fallback\": \"j\"}",
                "$.fallback",
                "cannot fall back to itself"),
            new Case("k", "[1]", "$", "must be a JSON object"),
            new Case("l", "{\"id\": ", "$", "not valid JSON"));
    write(dir, "good", "{\"id\": \"good\", \"backend\": \"comfyui\"}");
    for (Case c : cases) {
      write(dir, c.id(), c.content());
    }
    ModelCatalog catalog = ModelCatalog.load(dir.resolve("models"), json);
    assertThat(catalog.models().keySet()).containsExactly("good");
    for (Case c : cases) {
      assertThat(catalog.problems())
          .as(c.id())
          .anySatisfy(p -> {
            assertThat(p.file()).endsWith("models/" + c.id() + ".json");
            assertThat(p.path()).isEqualTo(c.path());
            assertThat(p.reason()).contains(c.reason());
          });
    }
  }

  @Test
  void fallbacksMustExistSpeakTheSameBackendAndNotCycle(@TempDir Path dir) throws IOException {
    write(dir, "a", "{\"id\": \"a\", \"backend\": \"comfyui\", \"fallback\": \"b\"}");
    write(dir, "b", "{\"id\": \"b\", \"backend\": \"comfyui\", \"fallback\": \"c\"}");
    write(dir, "c", "{\"id\": \"c\", \"backend\": \"comfyui\"}");
    write(dir, "loop1", "{\"id\": \"loop1\", \"backend\": \"comfyui\", \"fallback\": \"loop2\"}");
    write(dir, "loop2", "{\"id\": \"loop2\", \"backend\": \"comfyui\", \"fallback\": \"loop1\"}");
    write(
        dir,
        "into-loop",
        "{\"id\": \"into-loop\", \"backend\": \"comfyui\", \"fallback\": \"loop1\"}");
    write(
        dir,
        "missing",
        "{\"id\": \"missing\", \"backend\": \"comfyui\", \"fallback\": \"nowhere\"}");
    write(
        dir,
        "on-missing",
        "{\"id\": \"on-missing\", \"backend\": \"comfyui\", \"fallback\": \"missing\"}");
    write(dir, "gradio", "{\"id\": \"gradio\", \"backend\": \"gradio\", \"fallback\": \"c\"}");

    ModelCatalog catalog = ModelCatalog.load(dir.resolve("models"), json);

    assertThat(catalog.models().keySet()).containsExactlyInAnyOrder("a", "b", "c");
    assertThat(reasons(catalog.problems(), "loop1"))
        .anyMatch(r -> r.contains("cycle: loop1 -> loop2 -> loop1"));
    assertThat(reasons(catalog.problems(), "loop2")).anyMatch(r -> r.contains("cycle"));
    assertThat(reasons(catalog.problems(), "into-loop"))
        .anyMatch(r -> r.contains("names no loaded model: 'loop1'"));
    assertThat(reasons(catalog.problems(), "missing"))
        .anyMatch(r -> r.contains("names no loaded model: 'nowhere'"));
    assertThat(reasons(catalog.problems(), "on-missing"))
        .anyMatch(r -> r.contains("names no loaded model: 'missing'"));
    assertThat(reasons(catalog.problems(), "gradio"))
        .anyMatch(r -> r.contains("'c' speaks comfyui, but 'gradio' speaks gradio"));
    assertThat(catalog.problems()).allSatisfy(p -> assertThat(p.path()).isEqualTo("$.fallback"));
  }

  @Test
  void aTierNamingAnUnknownOrForeignModelSkipsThatTemplateOnly(@TempDir Path dir)
      throws IOException {
    copyFunction("invert", dir.resolve("invert"));
    copyFunction("gradient", dir.resolve("gradient"));
    copyFunction("generate-pattern", dir.resolve("pattern"));
    write(
        dir,
        "testkit-comfyui",
        Files.readString(SHIPPED.resolve("models/testkit-comfyui.json"))
            .replace("\"fallback\": \"comfyui-endpoints\",", ""));
    Path gradient = dir.resolve("gradient/template.json");
    Files.writeString(
        gradient,
        Files.readString(gradient)
            .replace(
                "\"quality_parameters\"",
                "\"tiers\": {\"draft\": {\"model\": \"testkit-comfyui\"}},\n  \"quality_parameters\""));
    Path pattern = dir.resolve("pattern/template.json");
    Files.writeString(
        pattern,
        Files.readString(pattern)
            .replace(
                "\"quality_parameters\"",
                "\"tiers\": {\"high\": {\"model\": \"flux-dev\"}},\n  \"quality_parameters\""));

    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);

    assertThat(registry.functions()).extracting(FunctionTemplate::id).containsExactly("invert");
    assertThat(registry.problems())
        .anySatisfy(p -> {
          assertThat(p.file()).endsWith("gradient/template.json");
          assertThat(p.path()).isEqualTo("$.tiers.draft.model");
          assertThat(p.reason()).contains("speaks comfyui, but this template's backend is script");
        });
    assertThat(registry.problems())
        .anySatisfy(p -> {
          assertThat(p.file()).endsWith("pattern/template.json");
          assertThat(p.path()).isEqualTo("$.tiers.high.model");
          assertThat(p.reason()).contains("names no loaded model: 'flux-dev'");
        });
  }

  @Test
  void aTierCannotOfferLessVramThanItsModelNeeds(@TempDir Path dir) throws IOException {
    copyFunction("invert", dir.resolve("invert"));
    write(
        dir,
        "testkit-comfyui",
        Files.readString(SHIPPED.resolve("models/testkit-comfyui.json"))
            .replace("\"fallback\": \"comfyui-endpoints\",", ""));
    Path invert = dir.resolve("invert/template.json");
    Files.writeString(
        invert,
        Files.readString(invert)
            .replace(
                "{ \"model\": \"testkit-comfyui\" }",
                "{ \"model\": \"testkit-comfyui\", \"vram_mb\": 10 }"));
    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);
    assertThat(registry.functions()).isEmpty();
    assertThat(registry.problems())
        .singleElement()
        .satisfies(p -> {
          assertThat(p.path()).isEqualTo("$.tiers.ultra.vram_mb");
          assertThat(p.reason()).contains("less than model 'testkit-comfyui' needs (512 MB)");
        });
  }

  @Test
  void modelEditsAreSeenWithoutARestart(@TempDir Path dir) throws IOException {
    copyFunction("invert", dir.resolve("invert"));
    Path model =
        write(
            dir,
            "testkit-comfyui",
            Files.readString(SHIPPED.resolve("models/testkit-comfyui.json"))
                .replace("\"fallback\": \"comfyui-endpoints\",", ""));
    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);
    assertThat(registry.model("testkit-comfyui").orElseThrow().vramMb()).isEqualTo(512);

    Files.writeString(
        model, Files.readString(model).replace("\"vram_mb\": 512", "\"vram_mb\": 2048"));
    Files.setLastModifiedTime(model, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
    assertThat(registry.model("testkit-comfyui").orElseThrow().vramMb()).isEqualTo(2048);
    TierConfig ultra = registry.find("invert").orElseThrow().tierConfigs().get(QualityTier.ULTRA);
    assertThat(ultra.vramMb()).isEqualTo(2048);

    Files.delete(model);
    assertThat(registry.model("testkit-comfyui")).isEmpty();
    assertThat(registry.find("invert")).isEmpty();
    assertThat(registry.problems())
        .anySatisfy(p -> assertThat(p.path()).isEqualTo("$.tiers.ultra.model"));
  }

  @Test
  void theModelSchemaAndTheLoaderAgreeAndEveryShippedModelFitsIt() throws IOException {
    JsonNode schema = json.readTree(SHIPPED.resolve("model.schema.json").toFile());
    assertThat(keys(schema.get("properties"))).isEqualTo(ModelParser.TOP_LEVEL);
    assertThat(keys(schema.at("/properties/container/properties")))
        .isEqualTo(ModelParser.CONTAINER_KEYS);
    List<String> backends = new java.util.ArrayList<>();
    schema.at("/properties/backend/enum").forEach(b -> backends.add(b.asText()));
    assertThat(new HashSet<>(backends)).isEqualTo(ModelParser.BACKENDS);
    List<Path> files;
    try (Stream<Path> list = Files.list(SHIPPED.resolve("models"))) {
      files = list.toList();
    }
    assertThat(files).hasSizeGreaterThanOrEqualTo(2);
    for (Path file : files) {
      JsonNode model = json.readTree(file.toFile());
      assertThat(keys(model)).as(file.toString()).isSubsetOf(ModelParser.TOP_LEVEL);
      assertThat(keys(model.path("container")))
          .as(file.toString())
          .isSubsetOf(ModelParser.CONTAINER_KEYS);
      assertThat(new ModelParser(json).parse(file).problems()).as(file.toString()).isEmpty();
    }
  }

  static Set<String> keys(JsonNode object) {
    Set<String> keys = new HashSet<>();
    object.fieldNames().forEachRemaining(keys::add);
    return keys;
  }

  static List<String> reasons(List<TemplateProblem> problems, String id) {
    return problems.stream()
        .filter(p -> p.file().endsWith("models/" + id + ".json"))
        .map(TemplateProblem::reason)
        .toList();
  }

  static Path write(Path root, String id, String content) throws IOException {
    Path file = root.resolve("models").resolve(id + ".json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, content);
    return file;
  }

  static void copyFunction(String name, Path to) throws IOException {
    Files.createDirectories(to);
    try (var files = Files.list(SHIPPED.resolve("functions").resolve(name))) {
      for (Path f : files.toList()) {
        Files.copy(f, to.resolve(f.getFileName()));
      }
    }
  }
}
