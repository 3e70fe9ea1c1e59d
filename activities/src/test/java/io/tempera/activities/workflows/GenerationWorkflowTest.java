package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.TestHost;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.Fallback;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.generation.ModelEndpoint;
import io.tempera.generation.OutputValue;
import io.tempera.generation.Phase;
import io.tempera.generation.PhaseTimeouts;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
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

  /** Where the allocator publishes the places in line. */
  private final io.tempera.progress.InProcessProgressBus bus =
      new io.tempera.progress.InProcessProgressBus();

  private WorkflowClient client;

  static final String HOST_QUEUE = HostRegistration.taskQueueFor("h1");

  @BeforeEach
  void setUp() {
    // as the worker application runs: each generation's end is told on the progress bus
    env =
        TestWorkflowEnvironment.newInstance(
            io.temporal.testing.TestEnvironmentOptions.newBuilder()
                .setWorkerFactoryOptions(
                    io.temporal.worker.WorkerFactoryOptions.newBuilder()
                        .setWorkerInterceptors(
                            new io.tempera.activities.GenerationEndsInterceptor(bus))
                        .build())
                .build());
    client = env.getWorkflowClient();
    activities = new FakeGenerationActivities();
    activities.allocator = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    // the generation queue: the workflow, its planning (local activities) and lease requests
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    worker.registerActivitiesImplementations(activities);
    // the leased host's own queue: the steps after the lease run here
    env.newWorker(HOST_QUEUE).registerActivitiesImplementations(activities);
    GenerationActivitySet.registerAllocator(env.getWorkerFactory(), client, bus);
    env.start();
    activities.host = new HostRegistration("h1", HOST_QUEUE, List.of(new Gpu(0, 24_000)), 1);
    activities.allocator.registerHost(activities.pool, activities.host);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      assertNoLeaseLeft();
    } finally {
      env.close();
    }
  }

  /**
   * Every way a generation ends gives its lease back: nothing is held once the test's generations
   * ended.
   */
  private void assertNoLeaseLeft() {
    await("no lease or waiter left")
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> {
          AllocatorState state = activities.allocator.state(activities.pool);
          assertThat(state.leases()).as("leases left behind").isEmpty();
          assertThat(state.waiters()).as("waiters left behind").isEmpty();
        });
  }

  private static GenerationResult run(GenerationWorkflow workflow, GenerationRequest request) {
    return TestHost.runToEnd(workflow, request);
  }

  private GenerationResult endOf(String id) {
    return TestHost.endOf(client, id);
  }

  private GenerationWorkflow newWorkflow(String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
            .setWorkflowId(id)
            .build());
  }

  private static GenerationRequest request(String function) {
    return new GenerationRequest(function, "standard", Map.of(), "p1", "n1", null);
  }

  @Test
  void runsTheBusinessProcessInOrderAndSucceeds() {
    GenerationResult result = run(newWorkflow("gen-happy"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.calls).containsExactly("resolve", "lease", "run", "collect");
    assertThat(activities.queues)
        .containsExactly(
            "resolve@tempera-generations",
            "lease@tempera-generations",
            "run@" + HOST_QUEUE,
            "collect@" + HOST_QUEUE);
    assertThat(activities.jobs.get(0).baseUrl())
        .as("no model container: the configured endpoints")
        .isNull();
    assertThat(result.outputs())
        .singleElement()
        .satisfies(o -> assertThat(o.name()).isEqualTo("gen-happy_out_00001_.png"));
    assertThat(result.tierUsed()).isEqualTo("standard");
    assertThat(result.error()).isNull();
    // the run id is a lowercase hyphenated UUID, as ComfyUI v0.25 requires for prompt_id
    assertThat(activities.runIds.get(0))
        .matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  }

  @Test
  void twoGenerationsCompetingForOneSlotWaitInOrderWithTheirPlaceVisible() throws Exception {
    java.util.concurrent.CountDownLatch releaseFirst = new java.util.concurrent.CountDownLatch(1);
    List<String> ran = new java.util.concurrent.CopyOnWriteArrayList<>();
    activities.backend =
        job -> {
          ran.add(job.generationId());
          if (job.generationId().equals("gen-first")) {
            try {
              releaseFirst.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationWorkflow first = newWorkflow("gen-first");
    WorkflowClient.start(first::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();
    GenerationWorkflow second = newWorkflow("gen-second");
    WorkflowClient.start(second::run, request("invert"));
    eventually(
        "the second waits first in line",
        () -> Integer.valueOf(1).equals(second.state().queuePosition()));
    // started once the second is in line, so their lease requests reach the allocator in this order
    GenerationWorkflow third = newWorkflow("gen-third");
    WorkflowClient.start(third::run, request("invert"));
    eventually(
        "the third waits second in line",
        () -> Integer.valueOf(2).equals(third.state().queuePosition()));
    assertThat(second.state().phase()).isEqualTo(Phase.WAITING_FOR_SLOT);
    assertThat(ran).containsExactly("gen-first");

    releaseFirst.countDown();
    for (String id : List.of("gen-first", "gen-second", "gen-third")) {
      assertThat(endOf(id).status()).isEqualTo(GenerationStatus.SUCCEEDED);
    }
    assertThat(ran).containsExactly("gen-first", "gen-second", "gen-third");
    assertThat(second.state().queuePosition()).isNull();
  }

  @Test
  void aContainerisedModelIsStartedOnTheLeasedHostAndReleasedAfterwards() {
    GenerationResult result = run(newWorkflow("gen-model"), request("containerised"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.calls)
        .containsExactly(
            "resolve", "lease", "start:gpu-model", "run", "collect", "releaseModel:gpu-model");
    assertThat(activities.queues)
        .contains("start@" + HOST_QUEUE, "run@" + HOST_QUEUE, "releaseModel@" + HOST_QUEUE);
    assertThat(activities.jobs.get(0).baseUrl()).isEqualTo("http://127.0.0.1:9/gpu-model");
  }

  @Test
  void aModelThatFailsToLoadIsReplacedByItsFallbackModel() {
    activities.models =
        start -> {
          if (start.model().id().equals("gpu-model")) {
            throw ApplicationFailure.newFailure(
                "gpu-model did not become healthy", ErrorCode.MODEL_UNAVAILABLE.name());
          }
          return new ModelEndpoint(start.model().id(), "c2", "http://127.0.0.1:9/cpu", false, 1);
        };
    GenerationWorkflow workflow = newWorkflow("gen-model-fallback");
    GenerationResult result = run(workflow, request("containerised"));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.fallbacks())
        .singleElement()
        .satisfies(f -> {
          assertThat(f.fromModel()).isEqualTo("gpu-model");
          assertThat(f.toModel()).isEqualTo("cpu-model");
        });
    assertThat(result.warnings())
        .contains("Finished with a backup model because the preferred one failed to load");
    assertThat(workflow.state().fallbacks()).hasSize(1);
    assertThat(activities.calls.stream().filter("start:gpu-model"::equals).count())
        .as("retried before falling back")
        .isEqualTo(3);
    assertThat(activities.calls)
        .containsSubsequence(
            "start:gpu-model",
            "planOnModel:cpu-model",
            "releaseModel:gpu-model",
            "start:cpu-model",
            "run",
            "collect",
            "releaseModel:cpu-model");
    assertThat(activities.jobs.get(0).baseUrl()).isEqualTo("http://127.0.0.1:9/cpu");
  }

  @Test
  void aModelAndItsFallbackBothFailingToLoadFailTheGenerationAndReleaseEverything() {
    activities.models =
        start -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "This worker host runs no container engine", ErrorCode.MODEL_UNAVAILABLE.name());
        };
    GenerationResult result = run(newWorkflow("gen-model-broken"), request("containerised"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("MODEL_UNAVAILABLE");
    assertThat(activities.modelsReleased).containsExactly("gpu-model", "cpu-model");
  }

  @Test
  void cancellingWhileWaitingInLineLeavesTheQueue() throws Exception {
    java.util.concurrent.CountDownLatch releaseFirst = new java.util.concurrent.CountDownLatch(1);
    activities.backend =
        job -> {
          try {
            releaseFirst.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationWorkflow first = newWorkflow("gen-holding");
    WorkflowClient.start(first::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();
    GenerationWorkflow waiting = newWorkflow("gen-waiting");
    WorkflowClient.start(waiting::run, request("invert"));
    eventually(
        "it waits in line", () -> Integer.valueOf(1).equals(waiting.state().queuePosition()));

    WorkflowStub.fromTyped(waiting).cancel("not needed any more");
    GenerationResult cancelled = endOf("gen-waiting");
    assertThat(cancelled.status()).isEqualTo(GenerationStatus.CANCELLED);
    eventually(
        "its place is given up",
        () -> activities.allocator.state(activities.pool).waiters().isEmpty());
    releaseFirst.countDown();
    endOf("gen-holding");
    assertThat(activities.calls.stream().filter("run"::equals).count()).isEqualTo(1);
  }

  @Test
  void aGenerationNoGpuCanHoldStepsDownATier() {
    GenerationResult result =
        run(
            newWorkflow("gen-too-big"),
            new GenerationRequest("huge", "ultra", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.tierUsed()).isEqualTo("high");
    assertThat(result.warnings())
        .contains("Finished at high because ultra needs more GPU memory than any host has");
  }

  private static void eventually(String what, java.util.function.Supplier<Boolean> condition) {
    await(what).atMost(Duration.ofSeconds(20)).until(condition::get);
  }

  @Test
  void aBackendValidationErrorFailsWithoutRetryAndReleasesTheSlot() throws Exception {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Node 3 (ImageScaleBy): Value 9.0 bigger than max of 8.0 (scale_by)",
              ErrorCode.BACKEND_VALIDATION.name());
        };
    GenerationResult result = run(newWorkflow("gen-invalid"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("BACKEND_VALIDATION");
    assertThat(result.error().message()).contains("Node 3 (ImageScaleBy)");
    assertThat(result.error().retryable()).isFalse();
    assertThat(activities.calls.stream().filter("run"::equals).count()).isEqualTo(1);
    assertNoLeaseLeft();
  }

  @Test
  void outOfMemoryBecomesAUserMessageWithAnAction() {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Not enough GPU memory at node 3", ErrorCode.OUT_OF_GPU_MEMORY.name());
        };
    GenerationResult result = run(newWorkflow("gen-oom"), request("invert"));

    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.error().suggestion())
        .isEqualTo("Not enough GPU memory — try Standard quality.");
    assertThat(result.error().action()).isEqualTo("REDUCE_QUALITY");
  }

  @Test
  void aRetriedRunKeepsTheSameRunId() {
    int[] attempts = {0};
    activities.backend =
        job -> {
          if (attempts[0]++ == 0) {
            throw ApplicationFailure.newFailure(
                "connection reset", ErrorCode.BACKEND_UNREACHABLE.name());
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              false);
        };
    GenerationResult result = run(newWorkflow("gen-retry"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.runIds).hasSize(2);
    assertThat(activities.runIds.get(1)).isEqualTo(activities.runIds.get(0));
  }

  @Test
  void anUnknownFunctionFailsBeforeAnySlotIsTaken() {
    GenerationResult result = run(newWorkflow("gen-unknown"), request("missing"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("UNKNOWN_FUNCTION");
    assertThat(activities.calls).containsExactly("resolve");
    assertThat(activities.allocator.state(activities.pool).leases()).isEmpty();
  }

  @Test
  void cancellingWhileRunningStopsTheBackendRunAndReleasesTheSlot() throws Exception {
    activities.backend =
        job -> {
          FakeGenerationActivities.sleep(60_000);
          return new BackendOutcome(job.runId(), false, List.of(), true);
        };
    GenerationWorkflow workflow = newWorkflow("gen-cancel");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    WorkflowStub.fromTyped(workflow).cancel("changed my mind");
    GenerationResult result = endOf("gen-cancel");

    assertThat(result.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(result.error().code()).isEqualTo("CANCELLED");
    assertThat(result.error().message()).startsWith("Cancelled");
    assertThat(activities.cancelledRuns).containsExactly(activities.runIds.get(0));
    assertThat(activities.queues).contains("cancel@" + HOST_QUEUE);
    assertNoLeaseLeft();
    assertThat(workflow.state().status()).isEqualTo(GenerationStatus.CANCELLED);
  }

  @Test
  void theQueryShowsThePhaseWhileRunning() throws Exception {
    activities.backend =
        job -> {
          FakeGenerationActivities.sleep(1_500);
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationWorkflow workflow = newWorkflow("gen-query");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    GenerationState state = workflow.state();
    assertThat(state.status()).isEqualTo(GenerationStatus.RUNNING);
    assertThat(state.phase()).isEqualTo(Phase.GENERATING);
    assertThat(state.functionVersion()).isEqualTo("1.0.0");

    endOf("gen-query");
    assertThat(workflow.state().phase()).isEqualTo(Phase.SUCCEEDED);
    assertThat(workflow.state().progress()).isEqualTo(1.0);
  }

  @Test
  void cancellingTheWorkflowFromTemporalCleansUpLikeAUserCancel() throws Exception {
    activities.backend =
        job -> {
          FakeGenerationActivities.sleep(60_000);
          return new BackendOutcome(job.runId(), false, List.of(), true);
        };
    GenerationWorkflow workflow = newWorkflow("gen-operator-cancel");
    WorkflowClient.start(workflow::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();

    client.newUntypedWorkflowStub("gen-operator-cancel").cancel();
    // an operator's cancel closes the workflow as cancelled in Temporal, after the cleanup ran
    assertThatThrownBy(() ->
            client
                .newUntypedWorkflowStub("gen-operator-cancel")
                .getResult(20, TimeUnit.SECONDS, GenerationResult.class))
        .isInstanceOf(WorkflowFailedException.class)
        .hasCauseInstanceOf(CanceledFailure.class);
    assertThat(statusOf("gen-operator-cancel"))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);

    GenerationState state = workflow.state();
    assertThat(state.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(state.error().message()).isEqualTo("Cancelled: the workflow was cancelled");
    assertThat(activities.cancelledRuns).hasSize(1);
    assertNoLeaseLeft();
  }

  @Test
  void searchAttributesFollowTheStatusWhenTheGenerationStartedWithThem() {
    GenerationSearchAttributes.ALL.forEach(key ->
        env.registerSearchAttribute(
            key.getName(), io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
    GenerationRequest request = request("invert");
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                .setWorkflowId("gen-searchable")
                .setTypedSearchAttributes(GenerationSearchAttributes.of(request))
                .build());
    run(workflow, request);

    io.temporal.common.SearchAttributes attributes =
        client.newUntypedWorkflowStub("gen-searchable").describe().getTypedSearchAttributes();
    assertThat(attributes.get(GenerationSearchAttributes.STATUS)).isEqualTo("SUCCEEDED");
    assertThat(attributes.get(GenerationSearchAttributes.PROJECT)).isEqualTo("p1");
    assertThat(attributes.get(GenerationSearchAttributes.FUNCTION)).isEqualTo("invert");
  }

  @Test
  void outOfMemoryStepsDownTheTierChainUntilItFits() {
    activities.backend =
        job -> {
          if (!job.plan().tierUsed().equals("standard")) {
            throw ApplicationFailure.newNonRetryableFailure(
                "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationResult result =
        run(
            newWorkflow("gen-fallback"),
            new GenerationRequest("invert", "ultra", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.tierUsed()).isEqualTo("standard");
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("high", "standard");
    assertThat(result.warnings())
        .contains(
            "Finished at high because ultra ran out of GPU memory",
            "Finished at standard because high ran out of GPU memory");
    assertThat(activities.calls)
        .containsSubsequence("run", "plan:high", "run", "plan:standard", "run", "collect");
    assertThat(activities.runIds).doesNotHaveDuplicates().hasSize(3);
  }

  @Test
  void outOfMemoryAtDraftFailsWithTheSuggestion() throws Exception {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
        };
    GenerationResult result =
        run(
            newWorkflow("gen-fallback-floor"),
            new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("draft");
    assertNoLeaseLeft();
  }

  @Test
  void aStalledRunIsRunAgainOnceUnderANewRunIdAndTheGenerationSaysSo() {
    java.util.concurrent.atomic.AtomicInteger runs =
        new java.util.concurrent.atomic.AtomicInteger();
    activities.backend =
        job -> {
          if (runs.incrementAndGet() == 1) {
            throw ApplicationFailure.newNonRetryableFailure(
                "The generator made no progress for 30 s; the run was stopped",
                ErrorCode.STALLED.name());
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };

    GenerationResult result = run(newWorkflow("gen-stalled-once"), request("invert"));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(activities.runIds).hasSize(2).doesNotHaveDuplicates();
    assertThat(result.warnings())
        .contains(
            "The generator made no progress for 30 s; the run was stopped; it was started again");
  }

  @Test
  void aBackendFaultThatCanPassRunsAgainOnceUnderANewRunIdThenEndsHonestly() {
    java.util.concurrent.atomic.AtomicInteger runs =
        new java.util.concurrent.atomic.AtomicInteger();
    activities.backend =
        job -> {
          runs.incrementAndGet();
          throw ApplicationFailure.newNonRetryableFailure(
              "Node 5 (KSampler) failed: CUDA error: an illegal memory access was encountered",
              ErrorCode.BACKEND_FAULT.name());
        };

    GenerationResult result = run(newWorkflow("gen-backend-fault"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(activities.runIds)
        .as("ran again once, as a new run")
        .hasSize(2)
        .doesNotHaveDuplicates();
    assertThat(result.error().code()).isEqualTo("BACKEND_FAULT");
    assertThat(result.error().action()).isEqualTo("RETRY");
    assertThat(result.error().suggestion())
        .as("a final error promises no more tries of its own")
        .doesNotContain("we keep")
        .doesNotContain("we are");
    assertThat(result.warnings()).anySatisfy(w -> assertThat(w).endsWith("it was started again"));
  }

  @Test
  void aRunThatStallsTwiceFailsWithTheStallAndItsSuggestion() {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "The generator made no progress for 30 s; the run was stopped",
              ErrorCode.STALLED.name());
        };

    GenerationResult result = run(newWorkflow("gen-stalled-twice"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("STALLED");
    assertThat(result.error().message())
        .isEqualTo("The generator made no progress for 30 s; the run was stopped");
    assertThat(result.error().suggestion()).contains("try again");
    assertThat(activities.runIds).hasSize(2);
    assertThat(activities.calls).doesNotContain("collect");
  }

  @Test
  void theTemplatesSlotWaitBoundsTheWaitInLine() throws Exception {
    java.util.concurrent.CountDownLatch releaseFirst = new java.util.concurrent.CountDownLatch(1);
    activities.backend =
        job -> {
          if (job.generationId().equals("gen-holder")) {
            try {
              releaseFirst.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    WorkflowClient.start(newWorkflow("gen-holder")::run, request("invert"));
    assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();
    activities.timeouts = new PhaseTimeouts(3, null, null, null, null);

    GenerationResult waited = run(newWorkflow("gen-impatient"), request("invert"));
    releaseFirst.countDown();

    assertThat(waited.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(waited.error().code()).isEqualTo("TIMEOUT");
    assertThat(waited.error().message())
        .isEqualTo("No GPU became free within 3 s (place in line: 1)");
    assertThat(endOf("gen-holder").status()).isEqualTo(GenerationStatus.SUCCEEDED);
  }

  @Test
  void collectingOutputsLongerThanTheTemplatesOutputTimeoutFailsNamingThePhase() {
    activities.timeouts = new PhaseTimeouts(null, null, null, null, 1);
    activities.collectDelayMillis = 2_500;

    GenerationResult result = run(newWorkflow("gen-slow-collect"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("TIMEOUT");
    assertThat(result.error().message()).isEqualTo("Collecting the outputs took longer than 1 s");
  }

  @Test
  void temporalShowsEachGenerationAsItEnded() throws Exception {
    // and the progress bus tells each generation's followers, once, however it ended
    Map<String, List<String>> told = new java.util.concurrent.ConcurrentHashMap<>();
    for (String id : List.of("gen-ends-ok", "gen-ends-failed", "gen-ends-cancelled")) {
      told.put(id, new java.util.concurrent.CopyOnWriteArrayList<>());
      bus.subscribe(id, event -> told.get(id).add(event.type()));
    }
    GenerationSearchAttributes.ALL.forEach(key ->
        env.registerSearchAttribute(
            key.getName(), io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
    activities.backend =
        job -> {
          if (job.generationId().equals("gen-ends-failed")) {
            throw ApplicationFailure.newNonRetryableFailure(
                "Node 3 is broken", ErrorCode.EXECUTION_ERROR.name());
          }
          if (job.generationId().equals("gen-ends-cancelled")) {
            FakeGenerationActivities.sleep(60_000);
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationRequest request = request("invert");
    java.util.function.Function<String, GenerationWorkflow> searchable =
        id ->
            client.newWorkflowStub(
                GenerationWorkflow.class,
                WorkflowOptions.newBuilder()
                    .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                    .setWorkflowId(id)
                    .setTypedSearchAttributes(GenerationSearchAttributes.of(request))
                    .build());
    run(searchable.apply("gen-ends-ok"), request);
    GenerationResult failed = run(searchable.apply("gen-ends-failed"), request);
    GenerationWorkflow cancelling = searchable.apply("gen-ends-cancelled");
    WorkflowClient.start(cancelling::run, request);
    eventually("it runs", () -> activities.calls.stream().filter("run"::equals).count() == 3);
    WorkflowStub.fromTyped(cancelling).cancel("not needed");
    GenerationResult cancelled = endOf("gen-ends-cancelled");

    assertThat(failed.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(failed.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(failed.functionId()).isEqualTo("invert");
    assertThat(cancelled.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(cancelled.error().message()).startsWith("Cancelled");
    assertThat(statusOf("gen-ends-ok"))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    assertThat(statusOf("gen-ends-failed"))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED);
    assertThat(statusOf("gen-ends-cancelled"))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);
    assertThat(searchStatusOf("gen-ends-ok")).isEqualTo("SUCCEEDED");
    assertThat(searchStatusOf("gen-ends-failed")).isEqualTo("FAILED");
    assertThat(searchStatusOf("gen-ends-cancelled")).isEqualTo("CANCELLED");
    // the failure itself is typed: its type is the error code, not retryable
    assertThatThrownBy(() ->
            client.newUntypedWorkflowStub("gen-ends-failed").getResult(GenerationResult.class))
        .cause()
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            app -> {
              assertThat(app.getType()).isEqualTo("EXECUTION_ERROR");
              assertThat(app.isNonRetryable()).isTrue();
              assertThat(app.getOriginalMessage()).isEqualTo("Node 3 is broken");
            });
    assertNoLeaseLeft();
    told.forEach((id, types) ->
        assertThat(types)
            .as("what the followers of %s were told", id)
            .filteredOn(io.tempera.progress.ProgressEvent.ENDED::equals)
            .hasSize(1));
    told.forEach((id, types) ->
        assertThat(types.getLast())
            .as("the end is the last thing told of %s", id)
            .isEqualTo(io.tempera.progress.ProgressEvent.ENDED));
  }

  @Test
  void aRunInterruptedOnTheBackendBySomeoneElseFails() {
    activities.backend = job -> new BackendOutcome(job.runId(), true, List.of(), true);

    GenerationResult result = run(newWorkflow("gen-interrupted-elsewhere"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(statusOf("gen-interrupted-elsewhere"))
        .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED);
  }

  private static final List<OutputValue> VALUES =
      List.of(
          new OutputValue("caption", "text", TextNode.valueOf("a red square on white")),
          new OutputValue("score", "number", DoubleNode.valueOf(0.87)),
          new OutputValue(
              "label",
              "label",
              JsonNodeFactory.instance
                  .objectNode()
                  .put("label", "square")
                  .set(
                      "confidences",
                      JsonNodeFactory.instance
                          .arrayNode()
                          .add(
                              JsonNodeFactory.instance
                                  .objectNode()
                                  .put("label", "square")
                                  .put("confidence", 0.9)))));

  @Test
  void aRunThatReturnsOnlyValuesSucceedsWithThemAndTellsItsWarnings() {
    activities.backend =
        job ->
            new BackendOutcome(job.runId(), false, List.of(), true)
                .with(VALUES, List.of("The prompt was shortened to 77 tokens"));
    GenerationWorkflow workflow = newWorkflow("gen-values-only");

    GenerationResult result = run(workflow, request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.error()).isNull();
    assertThat(result.outputs()).isEmpty();
    assertThat(result.values()).isEqualTo(VALUES);
    assertThat(result.warnings()).containsExactly("The prompt was shortened to 77 tokens");
    assertThat(activities.calls)
        .as("no file: nothing to collect")
        .containsExactly("resolve", "lease", "run");
    GenerationState state = workflow.state();
    assertThat(state.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(state.values()).isEqualTo(VALUES);
    assertThat(state.warnings()).containsExactly("The prompt was shortened to 77 tokens");
    assertThat(result.asState().values()).isEqualTo(VALUES);
    assertThat(versionMarkersOf("gen-values-only"))
        .as("the new behaviour is behind its version")
        .contains("succeeds-with-values-only");
  }

  @Test
  void aRunWithFilesAndValuesKeepsBothAndRecordsNoVersionMarker() {
    activities.backend =
        job ->
            new BackendOutcome(
                    job.runId(),
                    false,
                    List.of(new BackendFile("4", "images", "out_00001_.png", "", "output", null)),
                    true)
                .with(VALUES, List.of());
    GenerationWorkflow workflow = newWorkflow("gen-files-and-values");

    GenerationResult result = run(workflow, request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.outputs())
        .singleElement()
        .satisfies(o -> assertThat(o.name()).isEqualTo("gen-files-and-values_out_00001_.png"));
    assertThat(result.values()).isEqualTo(VALUES);
    assertThat(result.warnings()).isEmpty();
    assertThat(activities.calls).containsExactly("resolve", "lease", "run", "collect");
    assertThat(workflow.state().values()).isEqualTo(VALUES);
    assertThat(versionMarkersOf("gen-files-and-values"))
        .as("a run with files goes the 0.1.0 way")
        .isNotEmpty()
        .doesNotContain("succeeds-with-values-only");
  }

  @Test
  void aRunWithNeitherFilesNorValuesStillFailsOutputMissing() {
    activities.backend =
        job ->
            new BackendOutcome(job.runId(), false, List.of(), true)
                .with(List.of(), List.of("Nothing matched the prompt"));

    GenerationResult result = run(newWorkflow("gen-nothing"), request("invert"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("OUTPUT_MISSING");
    assertThat(result.error().message()).contains("finished without producing any output");
    assertThat(result.values()).isEmpty();
    assertThat(result.warnings())
        .as("what the backend told its user is kept on a failure too")
        .containsExactly("Nothing matched the prompt");
    assertThat(activities.calls).containsExactly("resolve", "lease", "run", "collect");
    assertThat(versionMarkersOf("gen-nothing")).doesNotContain("succeeds-with-values-only");
  }

  /** The change ids of the version markers a generation's history recorded. */
  private List<String> versionMarkersOf(String id) {
    return client.fetchHistory(id).getEvents().stream()
        .filter(e -> e.hasMarkerRecordedEventAttributes())
        .map(e -> e.getMarkerRecordedEventAttributes().getDetailsMap().get("changeId"))
        .filter(java.util.Objects::nonNull)
        .map(p -> p.getPayloads(0).getData().toStringUtf8().replace("\"", ""))
        .toList();
  }

  private WorkflowExecutionStatus statusOf(String id) {
    return client.newUntypedWorkflowStub(id).describe().getStatus();
  }

  private String searchStatusOf(String id) {
    return client
        .newUntypedWorkflowStub(id)
        .describe()
        .getTypedSearchAttributes()
        .get(GenerationSearchAttributes.STATUS);
  }

  @Test
  @org.junit.jupiter.api.Timeout(120)
  void aCancelRightAfterTheStartEndsTheGenerationWhateverItWasDoing() {
    for (int i = 0; i < 10; i++) {
      String id = "gen-quick-cancel-" + i;
      GenerationWorkflow workflow = newWorkflow(id);
      WorkflowClient.start(workflow::run, request("invert"));
      WorkflowStub.fromTyped(workflow).cancel("changed my mind at once");
      GenerationResult result = endOf(id);
      assertThat(result.status()).isIn(GenerationStatus.CANCELLED, GenerationStatus.SUCCEEDED);
    }
    assertNoLeaseLeft();
  }
}
