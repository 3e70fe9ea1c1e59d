package io.tempera.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.converter.DataConverter;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * What the Temporal server stores, with payload encryption on and off: a workflow whose input, an
 * activity's input and result and the workflow's result all carry a distinctive prompt, run on
 * Temporal's in-process test server; its history, as the server hands it to anyone who asks (an
 * operator, the Temporal UI), is searched for the prompt's bytes.
 */
public class EncryptedHistoryTest {

  static final String PROMPT = "a violet lighthouse drawn in charcoal, zq-7731";
  static final String QUEUE = "encrypted-history";

  @WorkflowInterface
  public interface PromptWorkflow {
    @WorkflowMethod
    String run(String prompt);
  }

  @ActivityInterface
  public interface PromptActivities {
    String render(String prompt);
  }

  public static class PromptWorkflowImpl implements PromptWorkflow {
    private final PromptActivities activities =
        Workflow.newActivityStub(
            PromptActivities.class,
            ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofSeconds(30)).build());

    @Override
    public String run(String prompt) {
      return "done: " + activities.render(prompt);
    }
  }

  public static class PromptActivitiesImpl implements PromptActivities {
    @Override
    public String render(String prompt) {
      if (prompt.startsWith("fail:")) {
        throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
            "The image " + prompt.substring(5) + " is not a whole image", "INVALID_REQUEST");
      }
      return "rendered " + prompt;
    }
  }

  static EncryptionCodec codec() {
    byte[] key = new byte[32];
    new Random(11).nextBytes(key);
    return EncryptionCodec.of("k1", Map.of("k1", key));
  }

  static TestWorkflowEnvironment environment(DataConverter converter) {
    WorkflowClientOptions.Builder client = WorkflowClientOptions.newBuilder();
    if (converter != null) {
      client.setDataConverter(converter);
    }
    TestWorkflowEnvironment env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setWorkflowClientOptions(client.build()).build());
    Worker worker = env.newWorker(QUEUE);
    worker.registerWorkflowImplementationTypes(PromptWorkflowImpl.class);
    worker.registerActivitiesImplementations(new PromptActivitiesImpl());
    env.start();
    return env;
  }

  /** The run's result, and its history's raw bytes (one char a byte, ISO-8859-1). */
  record Run(String result, String history) {}

  static Run run(TestWorkflowEnvironment env, String workflowId) {
    WorkflowClient client = env.getWorkflowClient();
    PromptWorkflow workflow =
        client.newWorkflowStub(
            PromptWorkflow.class,
            WorkflowOptions.newBuilder().setTaskQueue(QUEUE).setWorkflowId(workflowId).build());
    String result = workflow.run(PROMPT);
    byte[] history =
        env.getWorkflowServiceStubs()
            .blockingStub()
            .getWorkflowExecutionHistory(
                GetWorkflowExecutionHistoryRequest.newBuilder()
                    .setNamespace(env.getNamespace())
                    .setExecution(WorkflowExecution.newBuilder().setWorkflowId(workflowId))
                    .build())
            .toByteArray();
    return new Run(result, new String(history, StandardCharsets.ISO_8859_1));
  }

  /** True when the bytes hold {@code needle}'s UTF-8 bytes. */
  static boolean contains(String bytes, String needle) {
    return bytes.contains(
        new String(needle.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1));
  }

  @Test
  void withEncryptionTheHistoryHoldsNoPromptAndTheClientReadsTheResult() {
    EncryptionCodec codec = codec();
    try (TestWorkflowEnvironment env = environment(codec.dataConverter())) {
      Run run = run(env, "encrypted-run");

      assertThat(run.result()).isEqualTo("done: rendered " + PROMPT);
      assertThat(run.history().length()).isGreaterThan(1000);
      assertThat(contains(run.history(), "zq-7731")).as("the prompt in the history").isFalse();
      assertThat(contains(run.history(), "violet")).isFalse();
      assertThat(contains(run.history(), "binary/encrypted")).isTrue();
      assertThat(contains(run.history(), "PromptWorkflow")).as("names stay readable").isTrue();
    }
  }

  @Test
  void withEncryptionAFailuresMessageIsSealedTooAndItsTypeStaysReadable() {
    TestWorkflowEnvironment env = environment(codec().dataConverter());
    try {
      String id = "encrypted-failure";
      PromptWorkflow workflow =
          env.getWorkflowClient()
              .newWorkflowStub(
                  PromptWorkflow.class,
                  WorkflowOptions.newBuilder().setTaskQueue(QUEUE).setWorkflowId(id).build());
      Throwable failed =
          org.assertj.core.api.Assertions.catchThrowable(
              () -> workflow.run("fail:holiday-zq-4410.png"));
      Throwable root = failed;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      assertThat(root).isInstanceOf(io.temporal.failure.ApplicationFailure.class);
      assertThat(((io.temporal.failure.ApplicationFailure) root).getOriginalMessage())
          .as("the client decodes the message")
          .contains("holiday-zq-4410.png");
      String history =
          new String(
              env.getWorkflowServiceStubs()
                  .blockingStub()
                  .getWorkflowExecutionHistory(
                      GetWorkflowExecutionHistoryRequest.newBuilder()
                          .setNamespace(env.getNamespace())
                          .setExecution(WorkflowExecution.newBuilder().setWorkflowId(id))
                          .build())
                  .toByteArray(),
              StandardCharsets.ISO_8859_1);
      assertThat(contains(history, "holiday-zq-4410")).as("the file name in the history").isFalse();
      assertThat(contains(history, "INVALID_REQUEST")).as("the failure's type").isTrue();
    } finally {
      env.close();
    }
  }

  @Test
  void withoutEncryptionTheHistoryHoldsThePrompt() {
    try (TestWorkflowEnvironment env = environment(null)) {
      Run run = run(env, "plain-run");

      assertThat(run.result()).isEqualTo("done: rendered " + PROMPT);
      assertThat(contains(run.history(), PROMPT)).as("the check sees plaintext").isTrue();
      assertThat(contains(run.history(), "binary/encrypted")).isFalse();
    }
  }

  @Test
  void aRunFromBeforeEncryptionWasTurnedOnIsStillRead() {
    try (TestWorkflowEnvironment env = environment(null)) {
      run(env, "before-encryption");
      WorkflowClient encrypted =
          WorkflowClient.newInstance(
              env.getWorkflowServiceStubs(),
              WorkflowClientOptions.newBuilder()
                  .setNamespace(env.getNamespace())
                  .setDataConverter(codec().dataConverter())
                  .build());

      assertThat(encrypted.newUntypedWorkflowStub("before-encryption").getResult(String.class))
          .isEqualTo("done: rendered " + PROMPT);
    }
  }
}
