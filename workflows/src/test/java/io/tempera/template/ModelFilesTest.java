package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.FileInput;
import io.tempera.models.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model registry's files reach the graph: a {@code model_file} mapping writes the file of the
 * model the tier runs on; the shipped real functions (text-to-image, image-to-image, inpaint,
 * upscale, animate) name their checkpoints and upscalers that way.
 */
class ModelFilesTest {

  static final Path SHIPPED = Path.of("../templates");
  final ObjectMapper json = new ObjectMapper();
  final TemplateTranslator translator = new TemplateTranslator(json);

  @Test
  void theShippedModelsNameTheirFilesArchitectureAndVram() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    assertThat(registry.problems()).isEmpty();
    ModelSpec sd15 = registry.model("sd15").orElseThrow();
    assertThat(sd15.architecture()).isEqualTo("sd15");
    assertThat(sd15.files())
        .containsExactly(Map.entry("checkpoints", "tempera-tiny-sd15.safetensors"));
    assertThat(sd15.vramMb()).isPositive();
    assertThat(sd15.containerised()).isFalse();
    ModelSpec x4 = registry.model("upscale-x4").orElseThrow();
    assertThat(x4.architecture()).isEqualTo("esrgan");
    assertThat(x4.fallback()).isEqualTo("upscale-x4-fast");
    assertThat(registry.model("upscale-x4-fast").orElseThrow().files())
        .containsEntry("upscale_models", "tempera-tiny-compact-x4.pth");
  }

  @Test
  void textToImageGetsTheTiersCheckpointStepsSizeSamplerAndCfgAndItsParameters() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    FunctionTemplate t2i = registry.find("text-to-image").orElseThrow();
    List<Integer> widths = new ArrayList<>();
    List<Integer> steps = new ArrayList<>();
    for (QualityTier tier : QualityTier.values()) {
      ModelSpec model = registry.model(t2i, tier).orElseThrow();
      ObjectNode graph =
          translator
              .translate(t2i, tier, Map.of("prompt", "a red fox", "seed", 42), "p", model)
              .payload();
      assertThat(graph.at("/1/inputs/ckpt_name").asText())
          .isEqualTo("tempera-tiny-sd15.safetensors");
      assertThat(graph.at("/2/inputs/text").asText()).isEqualTo("a red fox");
      assertThat(graph.at("/3/inputs/text").asText()).contains("blurry"); // the default
      assertThat(graph.at("/5/inputs/seed").asLong()).isEqualTo(42);
      assertThat(graph.at("/4/inputs/batch_size").asInt()).isEqualTo(1);
      assertThat(graph.at("/5/inputs/cfg").isNumber()).isTrue();
      widths.add(graph.at("/4/inputs/width").asInt());
      steps.add(graph.at("/5/inputs/steps").asInt());
    }
    assertThat(widths).containsExactly(384, 512, 640, 768);
    assertThat(steps).containsExactly(8, 20, 30, 40);

    // width and height, when given, win over the tier's size and are rounded down to 8
    ObjectNode small =
        translator
            .translate(
                t2i,
                QualityTier.ULTRA,
                Map.of("prompt", "x", "width", 100, "height", 64, "batch_size", 2),
                "p",
                registry.model("sd15").orElseThrow())
            .payload();
    assertThat(small.at("/4/inputs/width").asInt()).isEqualTo(96);
    assertThat(small.at("/4/inputs/height").asInt()).isEqualTo(64);
    assertThat(small.at("/4/inputs/batch_size").asInt()).isEqualTo(2);
    assertThat(small.at("/5/inputs/steps").asInt()).isEqualTo(40);
  }

  @Test
  void upscaleTakesEachTiersUpscalerFromTheRegistry() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    FunctionTemplate upscale = registry.find("upscale").orElseThrow();
    List<String> files = new ArrayList<>();
    for (QualityTier tier : QualityTier.values()) {
      TemplateTranslator.Translation t =
          translator.translate(
              upscale,
              tier,
              Map.of("image", "uploads/a.png"),
              "p",
              registry.model(upscale, tier).orElseThrow());
      files.add(t.payload().at("/2/inputs/model_name").asText());
      assertThat(t.fileInputs())
          .containsExactly(new FileInput("image", "uploads/a.png", "1", "image"));
    }
    assertThat(files)
        .containsExactly(
            "tempera-tiny-esrgan-x2.safetensors",
            "tempera-tiny-esrgan-x2.safetensors",
            "tempera-tiny-compact-x4.pth",
            "tempera-tiny-esrgan-x4.safetensors");
    // on the fallback, the fallback's file
    ObjectNode onFallback =
        translator
            .translate(
                upscale,
                QualityTier.ULTRA,
                Map.of("image", "uploads/a.png"),
                "p",
                registry.model("upscale-x4-fast").orElseThrow())
            .payload();
    assertThat(onFallback.at("/2/inputs/model_name").asText())
        .isEqualTo("tempera-tiny-compact-x4.pth");
  }

  @Test
  void inpaintUploadsImageAndMaskAndAnimateRepeatsTheLatentIntoFrames() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    ModelSpec sd15 = registry.model("sd15").orElseThrow();
    TemplateTranslator.Translation inpaint =
        translator.translate(
            registry.find("inpaint").orElseThrow(),
            QualityTier.DRAFT,
            Map.of("image", "uploads/a.png", "mask", "uploads/m.png", "prompt", "roses"),
            "p",
            sd15);
    assertThat(inpaint.fileInputs())
        .containsExactly(
            new FileInput("image", "uploads/a.png", "4", "image"),
            new FileInput("mask", "uploads/m.png", "5", "image"));
    assertThat(inpaint.payload().at("/8/inputs/denoise").asDouble()).isEqualTo(1.0);
    assertThat(inpaint.payload().at("/1/inputs/ckpt_name").asText())
        .isEqualTo("tempera-tiny-sd15.safetensors");

    TemplateTranslator.Translation img2img =
        translator.translate(
            registry.find("image-to-image").orElseThrow(),
            QualityTier.STANDARD,
            Map.of("image", "uploads/a.png", "prompt", "snow", "strength", 0.3),
            "p",
            sd15);
    assertThat(img2img.payload().at("/6/inputs/denoise").asDouble()).isEqualTo(0.3);
    assertThat(img2img.payload().at("/6/inputs/steps").asInt()).isEqualTo(25);

    ObjectNode animate =
        translator
            .translate(
                registry.find("animate").orElseThrow(),
                QualityTier.DRAFT,
                Map.of("prompt", "a flame", "frames", 5, "fps", 12, "seed", 3),
                "p",
                sd15)
            .payload();
    assertThat(animate.at("/6/inputs/amount").asInt()).isEqualTo(5);
    assertThat(animate.at("/9/class_type").asText()).isEqualTo("SaveAnimatedWEBP");
    assertThat(animate.at("/9/inputs/fps").asDouble()).isEqualTo(12.0);
    assertThat(animate.at("/5/inputs/seed").asLong()).isEqualTo(3);
    assertThat(animate.at("/7/inputs/seed").asLong()).isEqualTo(3);
  }

  @Test
  void withoutTheTiersModelTheTranslationSaysWhichFileIsMissing() {
    TemplateRegistry registry = new TemplateRegistry(SHIPPED, json, 0);
    FunctionTemplate upscale = registry.find("upscale").orElseThrow();
    assertThatThrownBy(() ->
            translator.translate(upscale, QualityTier.DRAFT, Map.of("image", "uploads/a.png")))
        .isInstanceOf(TemplateTranslator.ModelFileMissing.class)
        .hasMessageContaining("upscale_models")
        .hasMessageContaining("draft");
    assertThatThrownBy(() ->
            translator.translate(
                upscale,
                QualityTier.DRAFT,
                Map.of("image", "uploads/a.png"),
                "p",
                registry.model("sd15").orElseThrow()))
        .isInstanceOf(TemplateTranslator.ModelFileMissing.class)
        .hasMessageContaining("Model sd15 names no upscale_models file");
  }

  @Test
  void modelFileMappingMistakesAreReportedAtLoad(@TempDir Path dir) throws IOException {
    writeModel(
        dir,
        "ckpt",
        "{\"id\": \"ckpt\", \"backend\": \"comfyui\", \"files\": {\"checkpoints\": \"a.safetensors\"}}");
    writeModel(dir, "bare", "{\"id\": \"bare\", \"backend\": \"comfyui\"}");
    writeModel(
        dir,
        "ckpt-to-bare",
        "{\"id\": \"ckpt-to-bare\", \"backend\": \"comfyui\", \"fallback\": \"bare\","
            + " \"files\": {\"checkpoints\": \"b.safetensors\"}}");
    String allTiers = tiers("ckpt", "ckpt", "ckpt", "ckpt");
    // good: every tier names a model with a checkpoint
    writeTemplate(
        dir,
        "good",
        mapping(
            "{\"type\": \"model_file\", \"file\": \"checkpoints\", \"target\": \"1.inputs.ckpt_name\"}"),
        allTiers);
    // a tier without a model
    writeTemplate(
        dir,
        "no-model",
        mapping(
            "{\"type\": \"model_file\", \"file\": \"checkpoints\", \"target\": \"1.inputs.ckpt_name\"}"),
        "{\"draft\": {\"model\": \"ckpt\"}}");
    // a model without that kind of file
    writeTemplate(
        dir,
        "no-file",
        mapping(
            "{\"type\": \"model_file\", \"file\": \"loras\", \"target\": \"1.inputs.ckpt_name\"}"),
        allTiers);
    // a fallback without the file
    writeTemplate(
        dir,
        "fallback-no-file",
        mapping(
            "{\"type\": \"model_file\", \"file\": \"checkpoints\", \"target\": \"1.inputs.ckpt_name\"}"),
        tiers("ckpt", "ckpt", "ckpt", "ckpt-to-bare"));
    // no file kind, a parameter, a file on another kind, a target not in the graph
    writeTemplate(
        dir,
        "no-kind",
        mapping("{\"type\": \"model_file\", \"target\": \"1.inputs.ckpt_name\"}"),
        allTiers);
    writeTemplate(
        dir,
        "with-parameter",
        mapping(
            "{\"type\": \"model_file\", \"parameter\": \"p\", \"file\": \"checkpoints\", \"target\": \"1.inputs.ckpt_name\"}"),
        allTiers);
    writeTemplate(
        dir,
        "file-on-direct",
        mapping(
            "{\"type\": \"direct\", \"parameter\": \"p\", \"file\": \"checkpoints\", \"target\": \"1.inputs.ckpt_name\"}"),
        allTiers);
    writeTemplate(
        dir,
        "bad-target",
        mapping(
            "{\"type\": \"model_file\", \"file\": \"checkpoints\", \"target\": \"1.inputs.nope\"}"),
        allTiers);

    TemplateRegistry registry = new TemplateRegistry(dir, json, 0);

    assertThat(registry.functions()).extracting(FunctionTemplate::id).containsExactly("good");
    FunctionTemplate good = registry.find("good").orElseThrow();
    assertThat(
            translator
                .translate(
                    good,
                    QualityTier.HIGH,
                    Map.of(),
                    "p",
                    registry.model(good, QualityTier.HIGH).orElseThrow())
                .payload()
                .at("/1/inputs/ckpt_name")
                .asText())
        .isEqualTo("a.safetensors");
    assertProblem(registry, "no-model", "$.parameter_mapping[0]", "tier 'standard' names no model");
    assertProblem(registry, "no-file", "$.tiers.draft.model", "model 'ckpt' names no loras file");
    assertProblem(
        registry,
        "fallback-no-file",
        "$.tiers.ultra.model",
        "model 'bare' (a fallback of 'ckpt-to-bare') names no checkpoints file");
    assertProblem(
        registry, "no-kind", "$.parameter_mapping[0].file", "required for a model_file mapping");
    assertProblem(
        registry, "with-parameter", "$.parameter_mapping[0].parameter", "not a parameter");
    assertProblem(
        registry, "file-on-direct", "$.parameter_mapping[0].file", "only a model_file mapping");
    assertProblem(registry, "bad-target", "$.parameter_mapping[0].target", "has no input 'nope'");
  }

  @Test
  void modelFilesAndArchitectureMistakesSkipTheEntry(@TempDir Path dir) throws IOException {
    writeModel(
        dir,
        "ok",
        "{\"id\": \"ok\", \"backend\": \"comfyui\", \"architecture\": \"sdxl\", \"files\": {\"checkpoints\": \"XL/base 1.0.safetensors\", \"vae\": \"sdxl_vae.safetensors\"}}");
    writeModel(
        dir,
        "win",
        "{\"id\": \"win\", \"backend\": \"comfyui\", \"files\": {\"checkpoints\": \"SD1.5\\\\dreamshaper.safetensors\"}}");
    writeModel(
        dir,
        "abs",
        "{\"id\": \"abs\", \"backend\": \"comfyui\", \"files\": {\"checkpoints\": \"/models/a.safetensors\"}}");
    writeModel(
        dir,
        "dots",
        "{\"id\": \"dots\", \"backend\": \"comfyui\", \"files\": {\"checkpoints\": \"../a.safetensors\"}}");
    writeModel(
        dir,
        "kind",
        "{\"id\": \"kind\", \"backend\": \"comfyui\", \"files\": {\"Check Points\": \"a.safetensors\"}}");
    writeModel(dir, "empty", "{\"id\": \"empty\", \"backend\": \"comfyui\", \"files\": {}}");
    writeModel(
        dir,
        "number",
        "{\"id\": \"number\", \"backend\": \"comfyui\", \"files\": {\"checkpoints\": 3}}");
    writeModel(
        dir, "arch", "{\"id\": \"arch\", \"backend\": \"comfyui\", \"architecture\": \"SD 1.5\"}");

    io.tempera.models.ModelCatalog catalog =
        io.tempera.models.ModelCatalog.load(dir.resolve("models"), json);

    assertThat(catalog.models().keySet()).containsExactlyInAnyOrder("ok", "win");
    assertThat(catalog.models().get("ok").files())
        .containsEntry("checkpoints", "XL/base 1.0.safetensors")
        .containsEntry("vae", "sdxl_vae.safetensors");
    assertThat(catalog.models().get("ok").architecture()).isEqualTo("sdxl");
    assertThat(catalog.problems())
        .extracting(p -> p.file().replaceAll(".*/", "") + " " + p.path())
        .containsExactlyInAnyOrder(
            "abs.json $.files.checkpoints",
            "dots.json $.files.checkpoints",
            "kind.json $.files.Check Points",
            "empty.json $.files",
            "number.json $.files.checkpoints",
            "arch.json $.architecture");
  }

  @Test
  void aModelSpecWithFilesSurvivesJsonAsInAPlan() throws IOException {
    ModelSpec spec =
        new ModelSpec(
            "sd15",
            "comfyui",
            null,
            List.of(),
            Map.of(),
            8188,
            "/system_stats",
            1024,
            60,
            null,
            "sd15",
            Map.of("checkpoints", "a.safetensors"));
    ModelSpec back = json.readValue(json.writeValueAsString(spec), ModelSpec.class);
    assertThat(back).isEqualTo(spec);
    // a plan recorded before models had files reads back with none
    ModelSpec old =
        json.readValue(
            "{\"id\":\"x\",\"backendType\":\"comfyui\",\"port\":8188,\"vramMb\":0,\"startTimeoutSeconds\":60}",
            ModelSpec.class);
    assertThat(old.files()).isEmpty();
    assertThat(old.architecture()).isNull();
  }

  private static void assertProblem(
      TemplateRegistry registry, String folder, String path, String reason) {
    assertThat(registry.problems())
        .as(folder)
        .anySatisfy(p -> {
          assertThat(p.file()).endsWith(folder + "/template.json");
          assertThat(p.path()).isEqualTo(path);
          assertThat(p.reason()).contains(reason);
        });
  }

  private static String mapping(String mapping) {
    return "[" + mapping + "]";
  }

  private static String tiers(String draft, String standard, String high, String ultra) {
    return "{\"draft\": {\"model\": \"%s\"}, \"standard\": {\"model\": \"%s\"}, \"high\": {\"model\": \"%s\"}, \"ultra\": {\"model\": \"%s\"}}"
        .formatted(draft, standard, high, ultra);
  }

  private static void writeModel(Path root, String id, String content) throws IOException {
    Path file = root.resolve("models").resolve(id + ".json");
    Files.createDirectories(file.getParent());
    Files.writeString(file, content);
  }

  private static void writeTemplate(Path root, String id, String mappings, String tiers)
      throws IOException {
    Path folder = root.resolve(id);
    Files.createDirectories(folder);
    Files.writeString(
        folder.resolve("graph.json"),
        """
        {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}}}
        """);
    Files.writeString(
        folder.resolve("template.json"),
        """
        {"id": "%s", "version": "1.0.0", "display_name": "%s",
         "backend": {"type": "comfyui", "graph": "graph.json"},
         "parameters": {"p": {"type": "string", "default": "x"}},
         "parameter_mapping": %s,
         "tiers": %s,
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
        """
            .formatted(id, id, mappings, tiers));
  }
}
