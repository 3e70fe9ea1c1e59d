package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tempera.generation.GenerationWorkflow;
import io.tempera.progress.InProcessProgressBus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;

/**
 * A running generation's state comes from its workflow's query, which a worker answers: with no
 * worker polling (all down, or the server restarting) the API answers 503 NO_WORKER within its
 * limit instead of holding the caller for the query's own deadline.
 */
class StateWithoutWorkerTest {

  private final TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance();

  @AfterEach
  void tearDown() {
    env.close();
  }

  /** The output store (its records of ended generations are looked at first: none here). */
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path outputRoot;

  @Test
  void aRunningGenerationThatNoWorkerAnswersFor503NoWorker() {
    env.start();
    WorkflowClient client = env.getWorkflowClient();
    String id = "gen-0123456789-no-worker";
    // started on a queue no worker polls: Temporal has it running, nobody answers its query
    client
        .newUntypedWorkflowStub(
            "GenerationWorkflow",
            WorkflowOptions.newBuilder()
                .setWorkflowId(id)
                .setTaskQueue(GenerationWorkflow.taskQueueFor("standard"))
                .build())
        .start((Object) null);
    GenerationService service =
        new GenerationService(
            client,
            null,
            new io.tempera.outputs.OutputStore(outputRoot),
            new InProcessProgressBus(),
            null,
            new io.tempera.security.SignedUrls(
                () -> new byte[32], java.time.Duration.ofHours(1), java.time.Clock.systemUTC()));

    ApiException refused = catchThrowableOfType(ApiException.class, () -> service.state(id));

    assertThat(refused).isNotNull();
    assertThat(refused.status()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE);
    assertThat(refused.code()).isEqualTo("NO_WORKER");
    assertThat(refused.getMessage()).contains("No worker answers");
  }
}
