package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.TestHost;
import io.tempera.backend.BackendRegistry;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.fixtures.TestFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker with no Gradio server configured: a gradio function fails at once, saying what to set.
 */
class GradioUnconfiguredTest {

  @TempDir Path tmp;

  @Test
  void aGradioFunctionFailsWithAClearBackendUnreachable() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Path templates = tmp.resolve("templates");
    TestFiles.copyTree(
        Path.of("src/test/resources/templates/gradio-paint"), templates.resolve("gradio-paint"));
    try (TestHost host =
        TestHost.builder(
                new TemplateRegistry(templates, json, 0),
                new BackendRegistry(List.of(new GradioBackend(List.of()))),
                new OutputStore(tmp.resolve("outputs")),
                new InProcessProgressBus())
            .slots(2)
            .start()) {
      GenerationResult result =
          host.run(
              "gen-none",
              new GenerationRequest(
                  "gradio-paint", "standard", Map.of("prompt", "fox"), "p", "n", null));

      assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
      assertThat(result.error().code()).isEqualTo(ErrorCode.BACKEND_UNREACHABLE.name());
      assertThat(result.error().message())
          .contains("No Gradio server is configured")
          .contains("TEMPERA_GRADIO_URLS");
    }
  }
}
