package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VariantAndTierTest {

  final ObjectMapper json = new ObjectMapper();
  @TempDir Path dir;
  FunctionTemplate template;

  @BeforeEach
  void load() throws IOException {
    Files.writeString(
        dir.resolve("graph.json"),
        "{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":8,\"height\":8,\"batch_size\":1,\"color\":0}},"
            + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"x\"}}}");
    Files.writeString(
        dir.resolve("template.json"),
        """
        {"id":"ab","version":"2","display_name":"AB","backend":{"type":"comfyui","graph":"graph.json"},"timeout_seconds":100,
         "quality_parameters":{"draft":{"1.inputs.width":64},"standard":{"1.inputs.width":128},"high":{},"ultra":{}},
         "tiers":{"draft":{"steps":8,"resolution":512,"sampler":"euler","vram_mb":4000,"optimizations":["cpu_offloading"],"max_concurrent":1,"timeout_seconds":30},
                  "ultra":{"steps":60,"vram_mb":48000,"timeout_seconds":900}},
         "variants":[{"name":"a","weight":70},{"name":"b","weight":30,"quality_parameters":{"standard":{"1.inputs.width":200}}}]}\
        """);
    TemplateParser.Parsed parsed = new TemplateParser(json).parse(dir.resolve("template.json"));
    assertThat(parsed.problems()).isEmpty();
    template = parsed.template();
  }

  @Test
  void tiersCarryTheirPipelineConfiguration() {
    assertThat(template.tierConfigs().get(QualityTier.DRAFT))
        .isEqualTo(
            new TierConfig(8, 512, "euler", 4000, java.util.List.of("cpu_offloading"), 1, 30));
    assertThat(template.timeoutSeconds(QualityTier.DRAFT)).isEqualTo(30);
    assertThat(template.timeoutSeconds(QualityTier.ULTRA)).isEqualTo(900);
    assertThat(template.timeoutSeconds(QualityTier.STANDARD))
        .as("the template's own timeout")
        .isEqualTo(100);
  }

  @Test
  void aProjectAlwaysGetsTheSameVariantAndItsSettings() {
    TemplateTranslator translator = new TemplateTranslator(json);
    String first = TemplateTranslator.variantFor(template, "project-42").name();
    for (int i = 0; i < 20; i++) {
      assertThat(TemplateTranslator.variantFor(template, "project-42").name()).isEqualTo(first);
    }
    String projectB = null;
    for (int i = 0; projectB == null; i++) {
      if (TemplateTranslator.variantFor(template, "p" + i).name().equals("b")) {
        projectB = "p" + i;
      }
    }
    TemplateTranslator.Translation b =
        translator.translate(template, QualityTier.STANDARD, Map.of(), projectB);
    assertThat(b.variant()).isEqualTo("b");
    assertThat(b.payload().at("/1/inputs/width").asInt()).isEqualTo(200);
    TemplateTranslator.Translation bDraft =
        translator.translate(template, QualityTier.DRAFT, Map.of(), projectB);
    assertThat(bDraft.payload().at("/1/inputs/width").asInt())
        .as("b changes only standard")
        .isEqualTo(64);
  }

  @Test
  void variantsAreSharedOutByTheirWeights() {
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 10_000; i++) {
      counts.merge(TemplateTranslator.variantFor(template, "project-" + i).name(), 1, Integer::sum);
    }
    assertThat(counts.get("a") / 10_000.0).isBetween(0.67, 0.73);
    assertThat(counts.get("b") / 10_000.0).isBetween(0.27, 0.33);
  }

  @Test
  void badTierAndVariantSettingsAreReported() throws IOException {
    String original = Files.readString(dir.resolve("template.json"));
    record Case(String from, String to, String path, String reason) {}
    for (Case c :
        java.util.List.of(
            new Case("\"steps\":8", "\"steps\":-8", "$.tiers.draft.steps", "whole number"),
            new Case(
                "\"sampler\":\"euler\"",
                "\"samplr\":\"euler\"",
                "$.tiers.draft.samplr",
                "unknown key"),
            new Case("\"ultra\":{\"steps\"", "\"mega\":{\"steps\"", "$.tiers.mega", "unknown tier"),
            new Case("\"weight\":30", "\"weight\":0", "$.variants[1].weight", "whole number"),
            new Case("{\"name\":\"b\"", "{\"name\":\"a\"", "$.variants[1].name", "named twice"),
            new Case(
                "\"1.inputs.width\":200",
                "\"9.inputs.width\":200",
                "$.variants[1].quality_parameters.standard.9.inputs.width",
                "no node '9'"))) {
      Files.writeString(dir.resolve("template.json"), original.replace(c.from(), c.to()));
      TemplateParser.Parsed parsed = new TemplateParser(json).parse(dir.resolve("template.json"));
      assertThat(parsed.problems())
          .as(c.to())
          .anySatisfy(p -> {
            assertThat(p.path()).isEqualTo(c.path());
            assertThat(p.reason()).contains(c.reason());
          });
    }
  }

  @Test
  void phaseTimeoutsComeFromTheTemplateWithTheTiersOwnOverThemAndDefaultsElsewhere()
      throws IOException {
    String original = Files.readString(dir.resolve("template.json"));
    Files.writeString(
        dir.resolve("template.json"),
        original
            .replace(
                "\"timeout_seconds\":100,",
                "\"timeout_seconds\":100,\"timeouts\":{\"slot_wait_seconds\":600,\"stall_seconds\":30},")
            .replace(
                "\"timeout_seconds\":900}",
                "\"timeout_seconds\":900,\"timeouts\":{\"stall_seconds\":90,\"output_seconds\":20}}"));
    TemplateParser.Parsed parsed = new TemplateParser(json).parse(dir.resolve("template.json"));
    assertThat(parsed.problems()).isEmpty();
    FunctionTemplate t = parsed.template();

    io.tempera.generation.PhaseTimeouts standard = t.timeouts(QualityTier.STANDARD);
    assertThat(standard.slotWait()).hasSeconds(600);
    assertThat(standard.stall()).hasSeconds(30);
    assertThat(standard.queueWait())
        .as("default")
        .hasSeconds(io.tempera.generation.PhaseTimeouts.DEFAULT_QUEUE_WAIT_SECONDS);
    assertThat(standard.output())
        .as("default")
        .hasSeconds(io.tempera.generation.PhaseTimeouts.DEFAULT_OUTPUT_SECONDS);
    assertThat(standard.modelStartSeconds(60)).as("the model's own").isEqualTo(60);

    io.tempera.generation.PhaseTimeouts ultra = t.timeouts(QualityTier.ULTRA);
    assertThat(ultra.slotWait()).as("the template's").hasSeconds(600);
    assertThat(ultra.stall()).as("the tier's").hasSeconds(90);
    assertThat(ultra.output()).hasSeconds(20);
  }

  @Test
  void badPhaseTimeoutsAreReportedWithTheirPath() throws IOException {
    String original = Files.readString(dir.resolve("template.json"));
    record Case(String timeouts, String path, String reason) {}
    for (Case c :
        java.util.List.of(
            new Case("{\"stall_seconds\":0}", "$.timeouts.stall_seconds", "whole number"),
            new Case("{\"stall\":5}", "$.timeouts.stall", "unknown key"),
            new Case("{\"output_seconds\":\"soon\"}", "$.timeouts.output_seconds", "whole number"),
            new Case(
                "{\"model_start_seconds\":7200}", "$.timeouts.model_start_seconds", "1 to 3600"),
            new Case("30", "$.timeouts", "must be an object"))) {
      Files.writeString(
          dir.resolve("template.json"),
          original.replace(
              "\"timeout_seconds\":100,",
              "\"timeout_seconds\":100,\"timeouts\":" + c.timeouts() + ","));
      TemplateParser.Parsed parsed = new TemplateParser(json).parse(dir.resolve("template.json"));
      assertThat(parsed.problems())
          .as(c.timeouts())
          .anySatisfy(p -> {
            assertThat(p.path()).isEqualTo(c.path());
            assertThat(p.reason()).contains(c.reason());
          });
    }
    Files.writeString(
        dir.resolve("template.json"),
        original.replace(
            "\"timeout_seconds\":900}",
            "\"timeout_seconds\":900,\"timeouts\":{\"queue_wait_seconds\":-1}}"));
    assertThat(new TemplateParser(json).parse(dir.resolve("template.json")).problems())
        .anySatisfy(
            p -> assertThat(p.path()).isEqualTo("$.tiers.ultra.timeouts.queue_wait_seconds"));
  }
}
