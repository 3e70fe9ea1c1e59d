package io.tempera.activities.planning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.PhaseEvents;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Planning writes the file of the model a tier runs on into the graph (a template's model_file
 * mapping), and a model fallback writes the fallback's file instead of the failed one's.
 */
class ModelFilePlanningTest {

  @TempDir Path tmp;
  final ObjectMapper json = new ObjectMapper();
  TemplateRegistry registry;
  PlanningActivitiesImpl planning;

  @BeforeEach
  void setUp() throws IOException {
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    registry = new TemplateRegistry(templates, json, 0);
    assertThat(registry.problems()).isEmpty();
    planning =
        new PlanningActivitiesImpl(
            registry,
            new TemplateTranslator(json),
            registry::model,
            false,
            new PhaseEvents(new InProcessProgressBus()));
  }

  /** What the workflow holds before planning at a tier: the function and its version. */
  static final GenerationPlan UPSCALE =
      new GenerationPlan(
          "upscale", "1.0.0", "draft", "draft", "comfyui", null, null, 0, null, null, null, null,
          null, 0);

  static GenerationRequest upscale(String tier) {
    return new GenerationRequest(
        "upscale", tier, Map.of("image", "uploads/a.png"), "project-1", "node-1", null, null);
  }

  @Test
  void eachTierPlansOnItsModelWithThatModelsFileInTheGraph() {
    GenerationPlan draft = planning.planAtTier(upscale("draft"), UPSCALE, "draft");
    assertThat(draft.model().id()).isEqualTo("upscale-x2");
    assertThat(draft.payload().at("/2/inputs/model_name").asText())
        .isEqualTo("tempera-tiny-esrgan-x2.safetensors");
    assertThat(draft.vramMb()).isEqualTo(registry.model("upscale-x2").orElseThrow().vramMb());

    GenerationPlan ultra = planning.planAtTier(upscale("ultra"), UPSCALE, "ultra");
    assertThat(ultra.model().id()).isEqualTo("upscale-x4");
    assertThat(ultra.payload().at("/2/inputs/model_name").asText())
        .isEqualTo("tempera-tiny-esrgan-x4.safetensors");
  }

  @Test
  void aModelFallbackWritesTheFallbacksFileIntoTheGraph() {
    GenerationRequest request = upscale("ultra");
    GenerationPlan ultra = planning.planAtTier(request, UPSCALE, "ultra");

    GenerationPlan onFallback = planning.planOnModel(request, ultra, "upscale-x4-fast");

    assertThat(onFallback.model().id()).isEqualTo("upscale-x4-fast");
    assertThat(onFallback.tierUsed()).isEqualTo("ultra");
    assertThat(onFallback.payload().at("/2/inputs/model_name").asText())
        .isEqualTo("tempera-tiny-compact-x4.pth");
    assertThat(onFallback.fileInputs()).isEqualTo(ultra.fileInputs());
    // everything else as planned
    assertThat(onFallback.payload().at("/1")).isEqualTo(ultra.payload().at("/1"));
  }

  @Test
  void aModelWithoutTheFileTheGraphNeedsIsUnavailable() {
    GenerationRequest request = upscale("draft");
    GenerationPlan draft = planning.planAtTier(request, UPSCALE, "draft");
    assertThatThrownBy(() -> planning.planOnModel(request, draft, "sd15"))
        .isInstanceOf(ApplicationFailure.class)
        .satisfies(e -> {
          ApplicationFailure failure = (ApplicationFailure) e;
          assertThat(failure.getType()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE.name());
          assertThat(failure.isNonRetryable()).isTrue();
          assertThat(failure.getOriginalMessage()).contains("sd15 names no upscale_models file");
        });
  }
}
