package io.tempera.batch;

import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationError;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationSummaries;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveries;
import io.tempera.webhooks.WebhookEvent;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.ParentClosePolicy;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TemporalFailure;
import io.temporal.failure.TerminatedFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.slf4j.Logger;

/**
 * The business process of a batch: while variations are left, wait for room in its window of
 * generations in flight, have the next one admitted under its project's quotas (waiting as long as
 * the API says when it is not, or until one of its own ended), and start it as a child generation
 * on its tier's queue, with the batch's priority and its project as fairness key; collect how each
 * ended. After {@link #CHUNK} starts in a run it lets the ones in flight end and continues as new
 * with its compact progress, so no run's history grows with the batch's size.
 */
public class BatchWorkflowImpl implements BatchWorkflow {

  private static final Logger log = Workflow.getLogger(BatchWorkflowImpl.class);

  /**
   * Generations started in one run of the batch's workflow before it continues as new: a run's
   * history holds about ten events per generation (its admission, its start and its end, and the
   * workflow tasks between), so about a thousand events per run, whatever the batch's size.
   */
  static final int CHUNK = 100;

  /** The memo keys a batch's generations carry (the API's, for a generation it starts). */
  static final String MEMO_FUNCTION = "functionId";

  static final String MEMO_PROJECT = "projectId";

  /** The memo key naming the batch a generation belongs to. */
  public static final String MEMO_BATCH = "batchId";

  private static ActivityOptions.Builder admissionOptions() {
    return ActivityOptions.newBuilder()
        .setStartToCloseTimeout(Duration.ofSeconds(30))
        .setRetryOptions(
            RetryOptions.newBuilder().setMaximumInterval(Duration.ofSeconds(30)).build())
        .setSummary("Admission under the project's quotas");
  }

  private final BatchActivities admissions =
      Workflow.newActivityStub(BatchActivities.class, admissionOptions().build());

  /**
   * The admission a cancel does not try to stop (version {@link #CANCEL_ONCE_STARTED}): a quick
   * answer, left to end on its own; the batch starts nothing after its cancel anyway.
   */
  private final BatchActivities admissionsLeftOnCancel =
      Workflow.newActivityStub(
          BatchActivities.class,
          admissionOptions().setCancellationType(ActivityCancellationType.ABANDON).build());

  private BatchRequest request;
  private BatchStatus status = BatchStatus.RUNNING;
  private int started;
  private final List<ChildOutcome> outcomes = new ArrayList<>();
  private final TreeSet<Integer> inFlight = new TreeSet<>();
  private QuotaWait quotaWait;
  private int runs;

  /**
   * The change id under which a cancelled batch cancels each generation only once its start was
   * recorded (version {@link #CANCEL_ONCE_STARTED}); before it (default version), its generations
   * were children of its own scope, cancelled with it even while their start was on its way, which
   * the SDK's child state machine could not follow ({@code invalid
   * START_EVENT_RECORDED->CHILD_WORKFLOW_EXECUTION_CANCELED}): the batch stayed running.
   */
  static final String CANCEL_CHANGE = "cancel-generations-once-started";

  static final int CANCEL_ONCE_STARTED = 1;

  /** Whether this run cancels its generations once started (set at its start). */
  private boolean cancelOnceStarted;

  /** The generations in flight, each in its own scope, with their start (that version only). */
  private final Map<Integer, Running> running = new LinkedHashMap<>();

  /** A generation in flight: the scope it runs in, and the promise of its start. */
  private record Running(CancellationScope scope, Promise<WorkflowExecution> start) {}

  @Override
  public BatchState run(BatchRequest request, BatchProgress progress) {
    this.request = request;
    BatchProgress carried = progress == null ? BatchProgress.none() : progress;
    started = carried.started();
    outcomes.addAll(carried.outcomes());
    runs = carried.runs() + 1;
    int total = request.total();
    int startedThisRun = 0;
    cancelOnceStarted =
        Workflow.getVersion(CANCEL_CHANGE, Workflow.DEFAULT_VERSION, CANCEL_ONCE_STARTED)
            == CANCEL_ONCE_STARTED;
    try {
      while (started < total && startedThisRun < CHUNK) {
        Workflow.await(() -> inFlight.size() < request.maxInFlight());
        if (admitted(started)) {
          if (cancelOnceStarted && CancellationScope.current().isCancelRequested()) {
            throw new CanceledFailure("the batch was cancelled"); // none starts after its cancel
          }
          start(started);
          started++;
          startedThisRun++;
        }
      }
      Workflow.await(inFlight::isEmpty);
    } catch (TemporalFailure failure) {
      if (!CancellationScope.current().isCancelRequested()) {
        throw failure;
      }
      cancelled();
    }
    if (started < total) {
      log.info("batch {}: {} of {} started, continuing as new", batchId(), started, total);
      Workflow.continueAsNew(request, new BatchProgress(started, outcomes, runs));
    }
    status = BatchStatus.COMPLETED;
    BatchState end = state();
    deliverWebhook(end);
    return end;
  }

  /**
   * Whether variation {@code index} may start now; when its project is at a quota, waits as long as
   * the answer says (or until one of the batch's own generations ended) first.
   */
  private boolean admitted(int index) {
    String projectId = request.generation().projectId();
    Admission answer =
        (cancelOnceStarted ? admissionsLeftOnCancel : admissions)
            .admit(projectId, BatchWorkflow.childIdFor(batchId(), index));
    if (answer.admitted()) {
      quotaWait = null;
      return true;
    }
    Duration wait = Duration.ofSeconds(Math.max(1, answer.retryAfterSeconds()));
    quotaWait =
        new QuotaWait(
            answer.code(),
            answer.message(),
            Instant.ofEpochMilli(Workflow.currentTimeMillis()).plus(wait).toString());
    int ended = outcomes.size();
    Workflow.await(wait, () -> outcomes.size() > ended);
    return false;
  }

  /** Starts variation {@code index} as a child generation; its end is collected when it comes. */
  private void start(int index) {
    String id = BatchWorkflow.childIdFor(batchId(), index);
    GenerationRequest generation = request.generationFor(index, requestIdOf(index));
    GenerationWorkflow child =
        Workflow.newChildWorkflowStub(GenerationWorkflow.class, optionsFor(id, generation));
    inFlight.add(index);
    if (!cancelOnceStarted) {
      Async.function(child::run, generation)
          .handle((result, failure) -> {
            ended(outcomeOf(index, result, failure));
            return null;
          });
      return;
    }
    // in a scope of its own: a cancel of the batch reaches it only once its start was recorded
    CancellationScope scope =
        Workflow.newDetachedCancellationScope(() ->
            Async.function(child::run, generation)
                .handle((result, failure) -> {
                  running.remove(index);
                  ended(outcomeOf(index, result, failure));
                  return null;
                }));
    scope.run();
    if (inFlight.contains(index)) {
      running.put(index, new Running(scope, Workflow.getWorkflowExecution(child)));
    }
  }

  /** The request id of variation {@code index}: the batch's, its number appended. */
  private String requestIdOf(int index) {
    String id = BatchWorkflow.childIdFor(batchId(), index);
    return id.substring(id.indexOf("-batch-") + 1);
  }

  /**
   * As the API starts a generation: on its tier's queue, its function and project (and the batch)
   * in its memo, its summary for the Temporal UI, the search attributes where they are registered,
   * the batch's priority with its project as fairness key. A batch that ends (or is terminated) has
   * its generations still running cancelled.
   */
  private ChildWorkflowOptions optionsFor(String id, GenerationRequest generation) {
    Map<String, Object> memo = new LinkedHashMap<>();
    memo.put(MEMO_FUNCTION, generation.functionId());
    memo.put(MEMO_PROJECT, generation.projectId());
    memo.put(MEMO_BATCH, batchId());
    ChildWorkflowOptions.Builder options =
        ChildWorkflowOptions.newBuilder()
            .setWorkflowId(id)
            .setTaskQueue(request.generationQueue())
            .setWorkflowIdReusePolicy(
                WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
            .setParentClosePolicy(ParentClosePolicy.PARENT_CLOSE_POLICY_REQUEST_CANCEL)
            .setMemo(memo)
            .setStaticSummary(GenerationSummaries.of(generation));
    if (request.searchAttributes()) {
      options.setTypedSearchAttributes(GenerationSearchAttributes.of(generation));
    }
    if (generation.priority() != null) {
      io.temporal.common.Priority.Builder priority =
          io.temporal.common.Priority.newBuilder()
              .setPriorityKey(generation.priority())
              .setFairnessKey(generation.projectId());
      if (generation.fairShareWeight() != null) {
        priority.setFairnessWeight(generation.fairShareWeight());
      }
      options.setPriority(priority.build());
    }
    return options.build();
  }

  private void ended(ChildOutcome outcome) {
    inFlight.remove(outcome.index());
    outcomes.add(outcome);
  }

  /**
   * How a child generation ended, from its result, or from the result its failure carries (a failed
   * generation's second detail); a cancelled or lost one from its failure alone.
   */
  static ChildOutcome outcomeOf(int index, GenerationResult result, Exception failure) {
    if (failure == null && result != null) {
      return of(index, result);
    }
    // a child that ended is a ChildWorkflowFailure with its cause; one cancelled before it started
    // is the CanceledFailure itself
    Throwable cause =
        failure instanceof io.temporal.failure.ChildWorkflowFailure child
            ? child.getCause()
            : failure;
    if (cause instanceof ApplicationFailure app) {
      if (app.getDetails() != null && app.getDetails().getSize() >= 2) {
        try {
          GenerationResult carried = app.getDetails().get(1, GenerationResult.class);
          if (carried != null) {
            return of(index, carried);
          }
        } catch (RuntimeException notOurs) {
          // not a generation's failure: told by its type and message below
        }
      }
      return new ChildOutcome(
          index, GenerationStatus.FAILED, List.of(), app.getType(), app.getOriginalMessage());
    }
    if (cause instanceof CanceledFailure) {
      return new ChildOutcome(
          index,
          GenerationStatus.CANCELLED,
          List.of(),
          ErrorCode.CANCELLED.name(),
          "Cancelled: the generation was cancelled");
    }
    if (cause instanceof TerminatedFailure) {
      return new ChildOutcome(
          index,
          GenerationStatus.FAILED,
          List.of(),
          ErrorCode.INTERNAL.name(),
          "The generation was stopped by an operator");
    }
    if (cause instanceof TimeoutFailure) {
      return new ChildOutcome(
          index,
          GenerationStatus.FAILED,
          List.of(),
          ErrorCode.TIMEOUT.name(),
          "The generation took longer than its time limit");
    }
    return new ChildOutcome(
        index,
        GenerationStatus.FAILED,
        List.of(),
        ErrorCode.INTERNAL.name(),
        "The generation could not be started or ended unexpectedly");
  }

  private static ChildOutcome of(int index, GenerationResult result) {
    GenerationError error = result.error();
    return new ChildOutcome(
        index,
        result.status(),
        result.outputs().stream().map(o -> new ChildOutput(o.name(), o.contentType())).toList(),
        error == null ? null : error.code(),
        error == null ? null : error.message());
  }

  /**
   * The batch was cancelled: its generations in flight were cancelled with it (as children of its
   * scope); waits until each ended, then ends Canceled, its state in its memo, after its webhook's
   * delivery started.
   */
  private void cancelled() {
    Workflow.newDetachedCancellationScope(
            () -> {
              if (cancelOnceStarted) {
                cancelOnceStarted();
              }
              Workflow.await(inFlight::isEmpty);
            })
        .run();
    status = BatchStatus.CANCELLED;
    quotaWait = null;
    BatchState end = state();
    log.info(
        "batch {} cancelled: {} of {} generations had started", batchId(), started, end.total());
    deliverWebhook(end);
    Workflow.upsertMemo(Map.of(MEMO_CANCELLED, end));
    throw new CanceledFailure("the batch was cancelled");
  }

  /**
   * Cancels each generation in flight once its start was recorded (one whose start failed ended
   * already): cancelling a child whose start is on its way is what the SDK cannot follow.
   */
  private void cancelOnceStarted() {
    for (Running generation : List.copyOf(running.values())) {
      try {
        generation.start().get();
      } catch (TemporalFailure notStarted) {
        // it ended without starting: its outcome is collected already
      }
      generation.scope().cancel("the batch was cancelled");
    }
  }

  /**
   * Starts the delivery of the batch's end to its webhook, if it names one: an abandoned child, as
   * a generation starts its own, waited for only until it started.
   */
  private void deliverWebhook(BatchState end) {
    Webhook webhook = request.webhook();
    if (webhook == null || webhook.url() == null) {
      return;
    }
    WebhookDeliveries.start(
        batchId(),
        request.generation().projectId(),
        WebhookEvent.ofBatch(
            end, webhook, Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString()));
  }

  @Override
  public BatchState state() {
    List<ChildOutcome> byIndex = new ArrayList<>(outcomes);
    byIndex.sort(Comparator.comparingInt(ChildOutcome::index));
    return new BatchState(
        batchId(), request, status, started, List.copyOf(inFlight), byIndex, quotaWait, runs);
  }

  private String batchId() {
    return Workflow.getInfo().getWorkflowId();
  }
}
