package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.backend.BackendRegistry;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationActivitiesImpl;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.LocalSlotPool;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A worker with no Gradio server configured: a gradio function fails at once, saying what to set. */
class GradioUnconfiguredTest {

  @TempDir Path tmp;

  @Test
  void aGradioFunctionFailsWithAClearBackendUnreachable() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Path templates = tmp.resolve("templates");
    TestFiles.copyTree(Path.of("src/test/resources/templates/gradio-paint"), templates.resolve("gradio-paint"));
    GenerationActivitiesImpl activities = new GenerationActivitiesImpl(
        new TemplateRegistry(templates, json, 0), new TemplateTranslator(json), new LocalSlotPool("t", 2),
        new BackendRegistry(List.of(new GradioBackend(List.of()))), new OutputStore(tmp.resolve("outputs")),
        new InProcessProgressBus(), new SimpleMeterRegistry());
    try (TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance()) {
      Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      worker.registerActivitiesImplementations(activities);
      env.start();

      GenerationResult result = env.getWorkflowClient().newWorkflowStub(GenerationWorkflow.class,
              WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId("gen-none").build())
          .run(new GenerationRequest("gradio-paint", "standard", Map.of("prompt", "fox"), "p", "n", null));

      assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
      assertThat(result.error().code()).isEqualTo(ErrorCode.BACKEND_UNREACHABLE.name());
      assertThat(result.error().message()).contains("No Gradio server is configured").contains("TEMPERA_GRADIO_URLS");
    }
  }
}
