package io.tempera.generation;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The workflow's business process against scripted activities, on the in-process test server. */
class GenerationWorkflowTest {

  private TestWorkflowEnvironment env;
  private FakeGenerationActivities activities;
  private WorkflowClient client;

  @BeforeEach
  void setUp() {
    env = TestWorkflowEnvironment.newInstance();
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    activities = new FakeGenerationActivities();
    worker.registerActivitiesImplementations(activities);
    env.start();
    client = env.getWorkflowClient();
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  private GenerationWorkflow newWorkflow(String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId(id).build());
  }

  private static GenerationRequest request(String function) {
    return new GenerationRequest(function, "standard", Map.of(), "p1", "n1", null);
  }

  @Test
  void runsTheBusinessProcessInOrderAndSucceeds() {
    GenerationResult result = newWorkflow("gen-happy").run(request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.calls).containsExactly("resolve", "acquire", "run", "collect", "release");
    assertThat(result.outputs()).singleElement().satisfies(o -> assertThat(o.name()).isEqualTo("gen-happy_out_00001_.png"));
    assertThat(result.tierUsed()).isEqualTo("standard");
    assertThat(result.error()).isNull();
    // the run id is a lowercase hyphenated UUID, as ComfyUI v0.25 requires for prompt_id
    assertThat(activities.runIds.get(0)).matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  }

  @Test
  void waitsForASlotWhileTheHostIsBusy() {
    activities.busyAttempts = 3;
    GenerationResult result = newWorkflow("gen-busy").run(request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.calls.stream().filter("acquire"::equals).count()).isEqualTo(4);
  }

  @Test
  void aBackendValidationErrorFailsWithoutRetryAndReleasesTheSlot() {
    activities.backend = job -> {
      throw ApplicationFailure.newNonRetryableFailure(
          "Node 3 (ImageScaleBy): Value 9.0 bigger than max of 8.0 (scale_by)", ErrorCode.BACKEND_VALIDATION.name());
    };
    GenerationResult result = newWorkflow("gen-invalid").run(request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("BACKEND_VALIDATION");
    assertThat(result.error().message()).contains("Node 3 (ImageScaleBy)");
    assertThat(result.error().retryable()).isFalse();
    assertThat(activities.calls.stream().filter("run"::equals).count()).isEqualTo(1);
    assertThat(activities.released).containsExactly("lease-gen-invalid");
  }

  @Test
  void outOfMemoryBecomesAUserMessageWithAnAction() {
    activities.backend = job -> {
      throw ApplicationFailure.newNonRetryableFailure("Not enough GPU memory at node 3", ErrorCode.OUT_OF_GPU_MEMORY.name());
    };
    GenerationResult result = newWorkflow("gen-oom").run(request("invert"));

    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.error().suggestion()).isEqualTo("Not enough GPU memory — try Standard quality.");
    assertThat(result.error().action()).isEqualTo("REDUCE_QUALITY");
  }

  @Test
  void aRetriedRunKeepsTheSameRunId() {
    int[] attempts = {0};
    activities.backend = job -> {
      if (attempts[0]++ == 0) {
        throw ApplicationFailure.newFailure("connection reset", ErrorCode.BACKEND_UNREACHABLE.name());
      }
      return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), false);
    };
    GenerationResult result = newWorkflow("gen-retry").run(request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.runIds).hasSize(2);
    assertThat(activities.runIds.get(1)).isEqualTo(activities.runIds.get(0));
  }

  @Test
  void anUnknownFunctionFailsBeforeAnySlotIsTaken() {
    GenerationResult result = newWorkflow("gen-unknown").run(request("missing"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("UNKNOWN_FUNCTION");
    assertThat(activities.calls).containsExactly("resolve");
  }

  @Test
  void cancellingWhileRunningStopsTheBackendRunAndReleasesTheSlot() throws Exception {
    activities.backend = job -> {
      FakeGenerationActivities.sleep(60_000);
      return new BackendOutcome(job.runId(), false, List.of(), true);
    };
    GenerationWorkflow workflow = newWorkflow("gen-cancel");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    workflow.cancel("changed my mind");
    GenerationResult result =
        client.newUntypedWorkflowStub("gen-cancel").getResult(20, TimeUnit.SECONDS, GenerationResult.class);

    assertThat(result.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(result.error().code()).isEqualTo("CANCELLED");
    assertThat(result.error().message()).contains("changed my mind");
    assertThat(activities.cancelledRuns).containsExactly(activities.runIds.get(0));
    assertThat(activities.released).containsExactly("lease-gen-cancel");
    assertThat(workflow.state().status()).isEqualTo(GenerationStatus.CANCELLED);
  }

  @Test
  void theQueryShowsThePhaseWhileRunning() throws Exception {
    activities.backend = job -> {
      FakeGenerationActivities.sleep(1_500);
      return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
    };
    GenerationWorkflow workflow = newWorkflow("gen-query");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    GenerationState state = workflow.state();
    assertThat(state.status()).isEqualTo(GenerationStatus.RUNNING);
    assertThat(state.phase()).isEqualTo(Phase.GENERATING);
    assertThat(state.functionVersion()).isEqualTo("1.0.0");

    client.newUntypedWorkflowStub("gen-query").getResult(20, TimeUnit.SECONDS, GenerationResult.class);
    assertThat(workflow.state().phase()).isEqualTo(Phase.SUCCEEDED);
    assertThat(workflow.state().progress()).isEqualTo(1.0);
  }

  @Test
  void cancellingTheWorkflowFromTemporalCleansUpLikeAUserCancel() throws Exception {
    activities.backend = job -> {
      FakeGenerationActivities.sleep(60_000);
      return new BackendOutcome(job.runId(), false, List.of(), true);
    };
    GenerationWorkflow workflow = newWorkflow("gen-operator-cancel");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    client.newUntypedWorkflowStub("gen-operator-cancel").cancel();
    // an operator's cancel closes the workflow as cancelled in Temporal, after the cleanup ran
    org.assertj.core.api.Assertions.assertThatThrownBy(() ->
            client.newUntypedWorkflowStub("gen-operator-cancel").getResult(20, TimeUnit.SECONDS, GenerationResult.class))
        .isInstanceOf(io.temporal.client.WorkflowFailedException.class)
        .hasMessageContaining("cancelled");

    GenerationState state = workflow.state();
    assertThat(state.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(state.error().message()).isEqualTo("Cancelled: the workflow was cancelled");
    assertThat(activities.cancelledRuns).hasSize(1);
    assertThat(activities.released).containsExactly("lease-gen-operator-cancel");
  }

  @Test
  void searchAttributesFollowTheStatusWhenTheGenerationStartedWithThem() {
    GenerationSearchAttributes.ALL.forEach(key ->
        env.registerSearchAttribute(key.getName(), io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
    GenerationRequest request = request("invert");
    GenerationWorkflow workflow = client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId("gen-searchable")
            .setTypedSearchAttributes(GenerationSearchAttributes.of(request)).build());
    workflow.run(request);

    io.temporal.common.SearchAttributes attributes =
        client.newUntypedWorkflowStub("gen-searchable").describe().getTypedSearchAttributes();
    assertThat(attributes.get(GenerationSearchAttributes.STATUS)).isEqualTo("SUCCEEDED");
    assertThat(attributes.get(GenerationSearchAttributes.PROJECT)).isEqualTo("p1");
    assertThat(attributes.get(GenerationSearchAttributes.FUNCTION)).isEqualTo("invert");
  }

  @Test
  void outOfMemoryStepsDownTheTierChainUntilItFits() {
    activities.backend = job -> {
      if (!job.plan().tierUsed().equals("standard")) {
        throw ApplicationFailure.newNonRetryableFailure("Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
      }
      return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
    };
    GenerationResult result = newWorkflow("gen-fallback").run(
        new GenerationRequest("invert", "ultra", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.tierUsed()).isEqualTo("standard");
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("high", "standard");
    assertThat(result.warnings()).contains(
        "Finished at high because ultra ran out of GPU memory", "Finished at standard because high ran out of GPU memory");
    assertThat(activities.calls).containsSubsequence("run", "plan:high", "run", "plan:standard", "run", "collect");
    assertThat(activities.runIds).doesNotHaveDuplicates().hasSize(3);
  }

  @Test
  void outOfMemoryAtDraftFailsWithTheSuggestion() {
    activities.backend = job -> {
      throw ApplicationFailure.newNonRetryableFailure("Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
    };
    GenerationResult result = newWorkflow("gen-fallback-floor").run(
        new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("draft");
    assertThat(activities.released).hasSize(1);
  }
}
