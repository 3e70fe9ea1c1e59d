package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tempera.batch.Admission;
import io.tempera.batch.BatchActivities;
import io.tempera.batch.BatchRequest;
import io.tempera.batch.BatchState;
import io.tempera.batch.BatchStatus;
import io.tempera.batch.BatchWorkflow;
import io.tempera.batch.BatchWorkflowImpl;
import io.tempera.batch.ChildOutcome;
import io.tempera.batch.SweepAxis;
import io.tempera.generation.GenerationError;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseRevocation;
import io.tempera.slots.QueuePosition;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookDeliveryWorkflowImpl;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A batch runs its variations as child generations, at most its window in flight, each admitted
 * under the project's quotas first; it collects how each ended (a failed one does not fail it),
 * cancels what has not ended when it is cancelled, delivers its end to a webhook, and keeps each
 * run's history bounded by continuing as new. On the in-process test server; the generations are a
 * scripted stand-in that ends as its parameter {@code outcome} says ({@code hold}: when told by a
 * signal).
 */
class BatchWorkflowTest {

  static final String GENERATIONS = "batch-test-generations";

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private final ScriptedAdmission admission = new ScriptedAdmission();
  private final ScriptedWebhooks receiver = new ScriptedWebhooks();

  /** Generations started, by id, with their requests. */
  static final Map<String, GenerationRequest> STARTED = new ConcurrentHashMap<>();

  /**
   * The stand-in generation: succeeds with one output named after its index, fails (as a generation
   * does: its result the failure's second detail) when {@code outcome} is {@code fail}, or waits
   * for the allocator's grant signal first when it is {@code hold}.
   */
  public static class ScriptedGeneration implements GenerationWorkflow {
    private boolean released;
    private GenerationRequest request;

    @Override
    public GenerationResult run(GenerationRequest request) {
      this.request = request;
      String id = Workflow.getInfo().getWorkflowId();
      STARTED.put(id, request);
      Object outcome = request.parameters().get("outcome");
      if ("hold".equals(outcome)) {
        Workflow.await(() -> released);
      }
      if ("fail".equals(outcome)) {
        GenerationError error =
            new GenerationError("EXECUTION_ERROR", "The node failed", null, null, false);
        throw ApplicationFailure.newBuilder()
            .setType("EXECUTION_ERROR")
            .setMessage("The node failed")
            .setNonRetryable(true)
            .setDetails(error, result(id, GenerationStatus.FAILED, List.of(), error))
            .build();
      }
      return result(
          id,
          GenerationStatus.SUCCEEDED,
          List.of(new OutputRef("out.png", "p/out.png", "image/png", 10, 1, 1)),
          null);
    }

    private GenerationResult result(
        String id, GenerationStatus status, List<OutputRef> outputs, GenerationError error) {
      return new GenerationResult(
          id,
          status,
          1.0,
          request.functionId(),
          "1.0.0",
          request.projectId(),
          request.nodeId(),
          request.tier(),
          request.tier(),
          outputs,
          error,
          List.of(),
          List.of(),
          null,
          null,
          List.of(),
          request.parameters());
    }

    @Override
    public GenerationState state() {
      return null;
    }

    @Override
    public void slotGranted(Lease lease) {
      released = true;
    }

    @Override
    public void slotRejected(String reason) {}

    @Override
    public void slotRevoked(LeaseRevocation revocation) {}

    @Override
    public void slotQueuePosition(QueuePosition position) {}
  }

  /** Admits, but refuses the first {@code refusals} questions with QUOTA_QUEUED. */
  static class ScriptedAdmission implements BatchActivities {
    final AtomicInteger refusals = new AtomicInteger();
    final List<String> asked = new CopyOnWriteArrayList<>();

    @Override
    public Admission admit(String projectId, String generationId) {
      asked.add(generationId);
      if (refusals.getAndDecrement() > 0) {
        return Admission.refused(
            "QUOTA_QUEUED", "Project " + projectId + " already has 2 generations waiting", 30);
      }
      return Admission.yes();
    }
  }

  @BeforeEach
  void setUp() {
    STARTED.clear();
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    env.newWorker(GENERATIONS).registerWorkflowImplementationTypes(ScriptedGeneration.class);
    var batches = env.newWorker(BatchWorkflow.TASK_QUEUE);
    batches.registerWorkflowImplementationTypes(BatchWorkflowImpl.class);
    batches.registerActivitiesImplementations(admission);
    var webhooks = env.newWorker(WebhookDeliveryWorkflow.TASK_QUEUE);
    webhooks.registerWorkflowImplementationTypes(WebhookDeliveryWorkflowImpl.class);
    webhooks.registerActivitiesImplementations(receiver);
    env.start();
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  static BatchRequest request(
      Map<String, Object> parameters,
      List<SweepAxis> sweep,
      int count,
      int maxInFlight,
      Webhook webhook) {
    return new BatchRequest(
        new GenerationRequest("invert", "standard", parameters, "p1", "n1", null, null, 5, 2, null),
        sweep,
        count,
        List.of(),
        maxInFlight,
        GENERATIONS,
        false,
        webhook);
  }

  private BatchWorkflow batch(String id) {
    return client.newWorkflowStub(
        BatchWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(BatchWorkflow.TASK_QUEUE)
            .setWorkflowId(id)
            .build());
  }

  private void release(String generationId) {
    client.newUntypedWorkflowStub(generationId).signal("slotGranted", (Object) null);
  }

  @Test
  void runsAtMostItsWindowAtOnceAndShowsEachEndedGenerationAsItEnds() {
    String id = BatchWorkflow.idFor("p1", "window");
    BatchWorkflow batch = batch(id);
    WorkflowClient.start(
        batch::run,
        request(
            Map.of("outcome", "hold"), List.of(new SweepAxis("cfg", List.of(5, 7, 9))), 2, 2, null),
        null);

    BatchWorkflow running = client.newWorkflowStub(BatchWorkflow.class, id);
    await().until(() -> running.state() != null && running.state().inFlight().size() == 2);
    BatchState state = running.state();
    assertThat(state.total()).isEqualTo(6);
    assertThat(state.inFlight()).containsExactly(0, 1);
    assertThat(state.waiting()).isEqualTo(4);
    assertThat(state.outcomes()).isEmpty();
    // each generation is the batch's, under its id, with its variation's values, its priority
    String first = BatchWorkflow.childIdFor(id, 0);
    assertThat(first).isEqualTo(id.replace("batch-", "gen-").replace("-window", "-batch-window-0"));
    assertThat(STARTED.get(first).parameters()).containsEntry("cfg", 5);
    assertThat(STARTED.get(BatchWorkflow.childIdFor(id, 1)).parameters()).containsEntry("cfg", 5);
    assertThat(STARTED.get(first).priority()).isEqualTo(5);
    assertThat(STARTED.get(first).fairShareWeight()).isEqualTo(2);
    assertThat(STARTED.get(first).requestId()).isEqualTo("batch-window-0");

    release(BatchWorkflow.childIdFor(id, 1));
    await().until(() -> running.state().outcomes().size() == 1);
    await().until(() -> running.state().inFlight().size() == 2);
    state = running.state();
    assertThat(state.outcomes())
        .singleElement()
        .satisfies(o -> {
          assertThat(o.index()).isEqualTo(1);
          assertThat(o.status()).isEqualTo(GenerationStatus.SUCCEEDED);
          assertThat(o.outputs()).extracting("name").containsExactly("out.png");
        });
    assertThat(state.inFlight()).containsExactly(0, 2);
    assertThat(state.succeeded()).isEqualTo(1);
    assertThat(STARTED.get(BatchWorkflow.childIdFor(id, 2)).parameters()).containsEntry("cfg", 7);

    for (int i = 0; i < 6; i++) {
      if (i == 1) {
        continue; // ended already
      }
      String child = BatchWorkflow.childIdFor(id, i);
      await().until(() -> STARTED.containsKey(child));
      release(child);
    }
    BatchState end = client.newUntypedWorkflowStub(id).getResult(BatchState.class);
    assertThat(end.status()).isEqualTo(BatchStatus.COMPLETED);
    assertThat(end.succeeded()).isEqualTo(6);
    assertThat(end.outcomes()).extracting(ChildOutcome::index).containsExactly(0, 1, 2, 3, 4, 5);
    assertThat(STARTED.get(BatchWorkflow.childIdFor(id, 5)).parameters()).containsEntry("cfg", 9);
    assertThat(admission.asked).hasSize(6);
  }

  @Test
  void aFailedGenerationDoesNotFailTheBatchItsErrorIsInTheResults() {
    String id = BatchWorkflow.idFor("p1", "failing");
    BatchState end =
        batch(id)
            .run(
                request(
                    Map.of(),
                    List.of(new SweepAxis("outcome", List.of("ok", "fail", "ok"))),
                    1,
                    3,
                    null),
                null);

    assertThat(end.status()).isEqualTo(BatchStatus.COMPLETED);
    assertThat(end.succeeded()).isEqualTo(2);
    assertThat(end.failed()).isEqualTo(1);
    ChildOutcome failed = end.outcomes().get(1);
    assertThat(failed.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(failed.errorCode()).isEqualTo("EXECUTION_ERROR");
    assertThat(failed.errorMessage()).isEqualTo("The node failed");
    assertThat(end.outcomes().get(0).outputs()).hasSize(1);
  }

  @Test
  void cancelAllCancelsTheGenerationsInFlightStartsNoOtherAndKeepsThePartialResults() {
    String id = BatchWorkflow.idFor("p1", "cancelled");
    WorkflowClient.start(
        batch(id)::run, request(Map.of("outcome", "hold"), List.of(), 10, 3, null), null);
    BatchWorkflow running = client.newWorkflowStub(BatchWorkflow.class, id);
    await().until(() -> running.state() != null && running.state().inFlight().size() == 3);
    release(BatchWorkflow.childIdFor(id, 0));
    await().until(() -> running.state().succeeded() == 1 && running.state().inFlight().size() == 3);

    WorkflowStub stub = client.newUntypedWorkflowStub(id);
    stub.cancel("cancelled by the user");
    assertThatThrownBy(() -> stub.getResult(BatchState.class))
        .isInstanceOf(WorkflowFailedException.class)
        .hasCauseInstanceOf(CanceledFailure.class);

    BatchState end =
        stub.describe().getMemo(BatchWorkflow.MEMO_CANCELLED, BatchState.class, BatchState.class);
    assertThat(end.status()).isEqualTo(BatchStatus.CANCELLED);
    assertThat(end.started()).isEqualTo(4);
    assertThat(end.inFlight()).isEmpty();
    assertThat(end.succeeded()).isEqualTo(1);
    assertThat(end.cancelled()).isEqualTo(9); // 3 cancelled running, 6 never started
    assertThat(end.waiting()).isZero();
    assertThat(end.outcomes())
        .extracting(ChildOutcome::index, ChildOutcome::status)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0, GenerationStatus.SUCCEEDED),
            org.assertj.core.groups.Tuple.tuple(1, GenerationStatus.CANCELLED),
            org.assertj.core.groups.Tuple.tuple(2, GenerationStatus.CANCELLED),
            org.assertj.core.groups.Tuple.tuple(3, GenerationStatus.CANCELLED));
    for (int i = 1; i <= 3; i++) {
      assertThat(
              client.newUntypedWorkflowStub(BatchWorkflow.childIdFor(id, i)).describe().getStatus())
          .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);
    }
    assertThat(STARTED).doesNotContainKey(BatchWorkflow.childIdFor(id, 4));
  }

  /**
   * Cancel all right after the start, while generations are still being started, for many batches
   * at once: each ends CANCELLED with every variation cancelled (none left running), whether the
   * cancel came at once or right after its first generation started. Before the batch waited for a
   * generation's start before cancelling it, the SDK's child state machine failed the batch's
   * workflow task here ({@code invalid START_EVENT_RECORDED->CHILD_WORKFLOW_EXECUTION_CANCELED}),
   * leaving the batch running for ever.
   */
  @Test
  void cancelAllOfManyBatchesRightAfterTheirStartWhileGenerationsAreStillBeingStarted()
      throws Exception {
    int batches = 6;
    int size = 8;
    for (int attempt = 0; attempt < 8; attempt++) {
      List<String> ids = new ArrayList<>();
      for (int b = 0; b < batches; b++) {
        String id = BatchWorkflow.idFor("p1", "cancelled-at-once-" + attempt + "-" + b);
        ids.add(id);
        WorkflowClient.start(
            batch(id)::run, request(Map.of("outcome", "hold"), List.of(), size, size, null), null);
      }
      if (attempt % 2 == 1) {
        String first = BatchWorkflow.childIdFor(ids.get(0), 0);
        await().until(() -> STARTED.containsKey(first));
      }
      ids.forEach(id -> client.newUntypedWorkflowStub(id).cancel("cancelled by the user"));
      for (String id : ids) {
        WorkflowStub stub = client.newUntypedWorkflowStub(id);
        // a batch whose workflow task fails for ever never ends: bounded, so it fails, not hangs
        var result = stub.getResultAsync(BatchState.class);
        assertThatThrownBy(() -> result.get(60, java.util.concurrent.TimeUnit.SECONDS))
            .as("%s of attempt %d", id, attempt)
            .isInstanceOf(java.util.concurrent.ExecutionException.class)
            .cause()
            .isInstanceOf(WorkflowFailedException.class)
            .hasCauseInstanceOf(CanceledFailure.class);
        BatchState end =
            stub.describe()
                .getMemo(BatchWorkflow.MEMO_CANCELLED, BatchState.class, BatchState.class);
        assertThat(end.status()).isEqualTo(BatchStatus.CANCELLED);
        assertThat(end.inFlight()).isEmpty();
        assertThat(end.cancelled()).as("%s of attempt %d", id, attempt).isEqualTo(size);
        assertThat(end.outcomes())
            .allSatisfy(o -> assertThat(o.status()).isEqualTo(GenerationStatus.CANCELLED));
        // every generation it started ended Canceled; none is left running
        for (int i = 0; i < end.started(); i++) {
          String child = BatchWorkflow.childIdFor(id, i);
          try {
            assertThat(client.newUntypedWorkflowStub(child).describe().getStatus())
                .as("child %d of %s", i, id)
                .isEqualTo(WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED);
          } catch (io.temporal.client.WorkflowNotFoundException neverStarted) {
            assertThat(STARTED).doesNotContainKey(child);
          }
        }
      }
    }
  }

  @Test
  void aGenerationRefusedByTheQuotasWaitsItsRetryAfterAndIsAskedAgain() {
    admission.refusals.set(2);
    String id = BatchWorkflow.idFor("p1", "quota");
    WorkflowClient.start(
        batch(id)::run, request(Map.of("outcome", "hold"), List.of(), 2, 2, null), null);
    BatchWorkflow running = client.newWorkflowStub(BatchWorkflow.class, id);
    await().until(() -> running.state() != null && running.state().quotaWait() != null);
    BatchState waiting = running.state();
    assertThat(waiting.quotaWait().code()).isEqualTo("QUOTA_QUEUED");
    assertThat(waiting.quotaWait().message()).contains("already has 2 generations waiting");
    assertThat(waiting.started()).isZero();

    // Retry-After (30 s) passes twice, skipped on the test server's clock
    env.sleep(Duration.ofSeconds(31));
    await().until(() -> admission.asked.size() >= 2);
    env.sleep(Duration.ofSeconds(31));
    await().until(() -> STARTED.size() == 2);
    STARTED.keySet().forEach(this::release);
    BatchState end = client.newUntypedWorkflowStub(id).getResult(BatchState.class);
    assertThat(end.succeeded()).isEqualTo(2);
    assertThat(end.quotaWait()).isNull();
    assertThat(admission.asked)
        .containsExactly(
            BatchWorkflow.childIdFor(id, 0),
            BatchWorkflow.childIdFor(id, 0),
            BatchWorkflow.childIdFor(id, 0),
            BatchWorkflow.childIdFor(id, 1));
  }

  @Test
  void itsEndIsPostedToItsWebhookWithEveryResult() {
    String id = BatchWorkflow.idFor("p1", "hooked");
    BatchState end =
        batch(id)
            .run(
                request(
                    Map.of(),
                    List.of(new SweepAxis("outcome", List.of("ok", "fail"))),
                    1,
                    2,
                    new Webhook("https://hooks.example.com/b", null)),
                null);
    assertThat(end.status()).isEqualTo(BatchStatus.COMPLETED);
    client
        .newUntypedWorkflowStub(WebhookDeliveryWorkflow.idFor(id))
        .getResult(io.tempera.webhooks.WebhookDeliveryState.class);
    assertThat(receiver.posts).hasSize(1);
    var event = receiver.posts.get(0).event();
    assertThat(event.type()).isEqualTo("batch.completed");
    assertThat(event.id()).isEqualTo("evt-" + id);
    assertThat(event.projectId()).isEqualTo("p1");
    assertThat(event.generation()).isNull();
    assertThat(event.batch().succeeded()).isEqualTo(1);
    assertThat(event.batch().failed()).isEqualTo(1);
  }

  /**
   * A thousand generations: every one ends (succeeded, in its index's order in the results), and
   * the batch continued as new after each chunk, so no run's history holds more than 2,000 events.
   */
  @Test
  void aThousandGenerationsEndWithEveryRunsHistoryBounded() throws Exception {
    String id = BatchWorkflow.idFor("p1", "thousand");
    WorkflowExecution first =
        WorkflowClient.start(batch(id)::run, request(Map.of(), List.of(), 1000, 20, null), null);
    BatchState end =
        client
            .newUntypedWorkflowStub(id)
            .getResult(
                Duration.ofMinutes(5).toMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS,
                BatchState.class);

    assertThat(end.status()).isEqualTo(BatchStatus.COMPLETED);
    assertThat(end.total()).isEqualTo(1000);
    assertThat(end.succeeded()).isEqualTo(1000);
    assertThat(end.outcomes()).extracting(ChildOutcome::index).isSorted().doesNotHaveDuplicates();
    assertThat(end.runs()).isEqualTo(10);

    List<Integer> sizes = new ArrayList<>();
    String runId = first.getRunId();
    while (runId != null) {
      WorkflowExecutionHistory history = client.fetchHistory(id, runId);
      sizes.add(history.getEvents().size());
      HistoryEvent last = history.getLastEvent();
      runId =
          last.hasWorkflowExecutionContinuedAsNewEventAttributes()
              ? last.getWorkflowExecutionContinuedAsNewEventAttributes().getNewExecutionRunId()
              : null;
    }
    assertThat(sizes).hasSize(10).allSatisfy(size -> assertThat(size).isLessThan(2_000));
  }

  /**
   * The recorded batch (a sweep of three, one failing, a window of two, its first generation
   * refused once by the quotas, its end delivered to a webhook) replays against today's code: a
   * change to the batch workflow that would break a running batch fails here. Recorded with {@code
   * -Dtempera.record-histories=true} (a recorded file is never rewritten).
   */
  @Test
  void theRecordedBatchStillReplays() throws Exception {
    java.nio.file.Path file = GenerationReplayTest.HISTORIES.resolve(RECORDED);
    if (Boolean.getBoolean("tempera.record-histories") && !java.nio.file.Files.exists(file)) {
      admission.refusals.set(1);
      String id = BatchWorkflow.idFor("p1", "recorded");
      WorkflowClient.start(
          batch(id)::run,
          request(
              Map.of(),
              List.of(new SweepAxis("outcome", List.of("ok", "fail", "ok"))),
              1,
              2,
              new Webhook("https://hooks.example.com/b", null)),
          null);
      client.newUntypedWorkflowStub(id).getResult(BatchState.class);
      java.nio.file.Files.writeString(file, client.fetchHistory(id).toJson(true));
    }
    assertThat(file).exists();
    WorkflowExecutionHistory history =
        WorkflowExecutionHistory.fromJson(
            java.nio.file.Files.readString(file), BatchWorkflow.idFor("p1", "recorded"));
    assertThat(history.getEvents()).hasSizeGreaterThan(20);
    io.temporal.testing.WorkflowReplayer.replayWorkflowExecution(history, BatchWorkflowImpl.class);
  }

  /**
   * The recorded cancelled batch (a window of three held generations, cancelled once they started;
   * each cancelled once its start was recorded, version {@code cancel-generations-once-started} 1)
   * replays against today's code. Recorded with {@code -Dtempera.record-histories=true}.
   */
  @Test
  void theRecordedCancelledBatchStillReplays() throws Exception {
    java.nio.file.Path file = GenerationReplayTest.HISTORIES.resolve(RECORDED_CANCELLED);
    String id = BatchWorkflow.idFor("p1", "recorded-cancelled");
    if (Boolean.getBoolean("tempera.record-histories") && !java.nio.file.Files.exists(file)) {
      WorkflowClient.start(
          batch(id)::run, request(Map.of("outcome", "hold"), List.of(), 5, 3, null), null);
      BatchWorkflow running = client.newWorkflowStub(BatchWorkflow.class, id);
      await().until(() -> running.state() != null && running.state().inFlight().size() == 3);
      WorkflowStub stub = client.newUntypedWorkflowStub(id);
      stub.cancel("cancelled by the user");
      assertThatThrownBy(() -> stub.getResult(BatchState.class))
          .hasCauseInstanceOf(CanceledFailure.class);
      java.nio.file.Files.writeString(file, client.fetchHistory(id).toJson(true));
    }
    assertThat(file).exists();
    WorkflowExecutionHistory history =
        WorkflowExecutionHistory.fromJson(java.nio.file.Files.readString(file), id);
    assertThat(history.getEvents())
        .anySatisfy(e -> assertThat(e.hasMarkerRecordedEventAttributes()).isTrue())
        .anySatisfy(e ->
            assertThat(e.hasRequestCancelExternalWorkflowExecutionInitiatedEventAttributes())
                .isTrue());
    io.temporal.testing.WorkflowReplayer.replayWorkflowExecution(history, BatchWorkflowImpl.class);
  }

  static final String RECORDED = "batch-sweep-quota-webhook.json";

  static final String RECORDED_CANCELLED = "batch-cancelled-once-started.json";
}
