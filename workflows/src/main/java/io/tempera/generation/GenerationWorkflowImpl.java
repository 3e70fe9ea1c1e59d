package io.tempera.generation;

import io.tempera.slots.Lease;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRelease;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.LeaseRevocation;
import io.tempera.slots.QueuePosition;
import io.tempera.slots.SlotActivities;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveries;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookEvent;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TemporalFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Functions;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;

/**
 * The business process of one generation: plan it from its template, lease a GPU slot from the
 * pool's allocator (waiting in line, its place visible), start the model on the leased host, run on
 * the backend and collect the outputs there (the host's own task queue), then release the model and
 * the lease whichever way it ended. What to do after a setback is decided by {@link Recovery}.
 *
 * <p>The steps on the leased host run in a cancellation scope that a revocation of the lease (the
 * allocator found the host lost) cancels: the generation then moves to another GPU.
 *
 * <p>State: the request, the {@link GenerationPlan}, the {@link Attempt} (where it runs), the
 * {@link Outcome} (what it has come to) and its place in the allocator's line.
 */
public class GenerationWorkflowImpl implements GenerationWorkflow {

  private static final Logger log = Workflow.getLogger(GenerationWorkflowImpl.class);

  private final PlanningActivities planning =
      Workflow.newLocalActivityStub(PlanningActivities.class, GenerationActivityOptions.planning());

  private GenerationRequest request;
  private GenerationPlan plan;
  private Attempt attempt = Attempt.none();
  private Outcome outcome = Outcome.begun();
  private Line line = Line.NONE;

  /** The lease the allocator took back, until the generation moved off its host. */
  private LeaseRevocation revoked;

  /** The run's activity gave the lease back already: the cleanup does not. */
  private boolean slotGivenBack;

  /** The steps running on the leased host now (cancelled when the lease is revoked). */
  private CancellationScope onHost;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): the lease request is not cancelled midway
   * (a cancel is looked at once the allocator answered), and asks for at most {@link
   * #LEASE_REQUEST_LIMIT}.
   */
  static final String LEASE_REQUEST_CHANGE = "lease-request-uncancelled";

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): a run the backend failed with a fault that
   * can pass ({@link ErrorCode#BACKEND_FAULT}) runs once more under a new run id, as a stalled one
   * does. Asked only when such a failure happens.
   */
  static final String BACKEND_FAULT_CHANGE = "runs-again-after-backend-fault";

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): a run that returned values (text, numbers,
   * JSON) but no file succeeds with those values instead of failing {@link
   * ErrorCode#OUTPUT_MISSING}; nothing is collected when there is no file. Asked only when a run
   * returned values, which no run before it did.
   */
  static final String VALUES_CHANGE = "succeeds-with-values-only";

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): the TemperaTier search attribute follows
   * the tier the plan runs at (a step down to a lower tier, a raw name resolved), instead of
   * keeping the string the request named. Asked only when they differ.
   */
  static final String TIER_USED_CHANGE = "tier-attribute-follows-plan";

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): a generation that names a webhook starts
   * its delivery ({@link WebhookDeliveryWorkflow}) as an abandoned child once it ended. Asked only
   * when the request names a webhook, which no request before it did.
   */
  static final String WEBHOOK_CHANGE = "delivers-webhook";

  /** How long asking the allocator may take, retries included (the wait in line is apart). */
  static final Duration LEASE_REQUEST_LIMIT = Duration.ofMinutes(2);

  /** What the allocator told this generation while it waited in line (by signal). */
  private record Line(Lease granted, String rejection, Integer position, long seq) {
    static final Line NONE = new Line(null, null, null, -1);
  }

  @Override
  public GenerationResult run(GenerationRequest request) {
    this.request = request;
    GenerationError error = null;
    try {
      generate();
    } catch (TemporalFailure failure) {
      error =
          cancelled(failure)
              ? cancelledError()
              : GenerationFailures.describe(failure, outcome.phase(), plan, attempt);
    }
    end(error);
    cleanUp();
    GenerationResult result = result();
    deliverWebhook(result);
    return resultOrThrow(result);
  }

  private void generate() {
    plan = planning.plan(request);
    tierAttributeFollowsPlan();
    outcome = outcome.withWarnings(plan.warnings());
    while (true) {
      try {
        if (!holdLeaseAndModel()) {
          continue; // stepped down a tier: ask again
        }
        enter(Phase.GENERATING, 0.05);
        BackendOutcome ran = onLeasedHost(this::runOnBackend);
        slotGivenBack = ran.slotReleased(); // the next in line runs while the outputs are collected
        if (!ran.warnings().isEmpty()) {
          outcome = outcome.withWarnings(ran.warnings()); // what the backend told its user
        }
        if (ran.interrupted()) {
          if (CancellationScope.current().isCancelRequested()) {
            throw new CanceledFailure("the run was interrupted");
          }
          throw ApplicationFailure.newNonRetryableFailure(
              "The run was interrupted on the generator by someone else",
              ErrorCode.EXECUTION_ERROR.name());
        }
        enter(Phase.COLLECTING_OUTPUTS, 0.95);
        boolean valuesOnly = ran.files().isEmpty() && keepsValuesOf(ran);
        List<OutputRef> stored = valuesOnly ? List.of() : onLeasedHost(() -> collect(ran.files()));
        if (stored.isEmpty() && !keepsValuesOf(ran)) {
          throw ApplicationFailure.newNonRetryableFailure(
              "The generator finished without producing any output",
              ErrorCode.OUTPUT_MISSING.name());
        }
        outcome = outcome.withOutputs(stored).withValues(ran.values());
        return;
      } catch (HostLost lost) {
        // the host is gone: nothing of this attempt is cleaned up there, the lease is taken back
        attempt = attempt.movedOffHost(lost.revocation().hostId());
        revoked = null;
        recover(
            Setback.HOST_LOST,
            ApplicationFailure.newNonRetryableFailure(
                lost.revocation().reason()
                    + "; the generation gave up after "
                    + attempt.lostHosts().size()
                    + " GPU hosts were lost under it",
                ErrorCode.BACKEND_UNREACHABLE.name()),
            lost.revocation());
      } catch (ActivityFailure failure) {
        if (outcome.phase() == Phase.COLLECTING_OUTPUTS) {
          throw failure;
        }
        Setback setback =
            outcome.phase() == Phase.STARTING_MODEL
                ? Setback.ofModelStart(failure)
                : Setback.ofRun(failure);
        if (setback == Setback.BACKEND_FAULT
            && Workflow.getVersion(BACKEND_FAULT_CHANGE, Workflow.DEFAULT_VERSION, 1)
                == Workflow.DEFAULT_VERSION) {
          setback = Setback.NONE;
        }
        if (setback == Setback.NONE && outcome.phase() == Phase.GENERATING) {
          keepPartialOutputs(failure);
        }
        recover(setback, failure, null);
      }
    }
  }

  /** The run returned values (not files) and this generation may succeed with them alone. */
  private static boolean keepsValuesOf(BackendOutcome ran) {
    return !ran.values().isEmpty()
        && Workflow.getVersion(VALUES_CHANGE, Workflow.DEFAULT_VERSION, 1)
            != Workflow.DEFAULT_VERSION;
  }

  /**
   * Runs a step on the leased host in a scope a revocation of the lease cancels; {@link HostLost}
   * when the lease was (or is, meanwhile) revoked.
   */
  private <T> T onLeasedHost(Functions.Func<T> step) {
    throwIfHostLost();
    List<T> result = new java.util.ArrayList<>(1);
    onHost = Workflow.newCancellationScope(() -> result.add(step.apply()));
    try {
      onHost.run();
    } catch (TemporalFailure failure) {
      throwIfHostLost();
      throw failure;
    } finally {
      onHost = null;
    }
    return result.get(0);
  }

  private void throwIfHostLost() {
    if (revoked != null
        && attempt.lease() != null
        && attempt.lease().hostId().equals(revoked.hostId())
        && !CancellationScope.current().isCancelRequested()) {
      throw new HostLost(revoked);
    }
  }

  /** The leased host was lost while a step ran (or was about to) there. */
  private static final class HostLost extends RuntimeException {
    private final transient LeaseRevocation revocation;

    HostLost(LeaseRevocation revocation) {
      super(revocation.reason(), null, false, false);
      this.revocation = revocation;
    }

    LeaseRevocation revocation() {
      return revocation;
    }
  }

  /**
   * Holds a lease big enough for the plan and, when the plan's model runs in a container, that
   * model started on the leased host. False when no GPU of the pool can hold the plan and it
   * stepped down a tier instead.
   */
  private boolean holdLeaseAndModel() {
    if (attempt.lease() == null) {
      enter(Phase.WAITING_FOR_SLOT, 0.02);
      String rejection = lease();
      if (rejection != null) {
        recover(
            Setback.NO_GPU_FITS,
            ApplicationFailure.newNonRetryableFailure(
                rejection, ErrorCode.OUT_OF_GPU_MEMORY.name()),
            null);
        return false;
      }
    }
    if (plan.needsModelContainer() && !attempt.hasModel(plan.modelId())) {
      enter(Phase.STARTING_MODEL, 0.03);
      ModelStart start = new ModelStart(generationId(), plan.model(), attempt.lease().gpuIndex());
      attempt = attempt.starting(start);
      ModelActivities models =
          Workflow.newActivityStub(
              ModelActivities.class, GenerationActivityOptions.modelStart(attempt.lease(), plan));
      ModelEndpoint endpoint = onLeasedHost(() -> models.startModel(start));
      attempt = attempt.started(endpoint);
      outcome = outcome.withModelColdStart(endpoint.reused() ? 0L : endpoint.coldStartMillis());
    }
    return true;
  }

  /**
   * Asks the allocator for a lease and waits in line for it; the rejection when no GPU can ever
   * hold it.
   */
  private String lease() {
    line = Line.NONE;
    Duration slotWait = plan.timeouts().slotWait();
    boolean uncancelled =
        Workflow.getVersion(LEASE_REQUEST_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    SlotActivities slots =
        Workflow.newActivityStub(
            SlotActivities.class,
            GenerationActivityOptions.lease(
                uncancelled && slotWait.compareTo(LEASE_REQUEST_LIMIT) > 0
                    ? LEASE_REQUEST_LIMIT
                    : slotWait,
                plan));
    // its project and priority order the pool's line (fair share); the host adds nothing
    LeaseRequest request =
        new LeaseRequest(
            generationId(),
            plan.vramMb(),
            plan.functionId(),
            plan.tierUsed(),
            this.request.projectId(),
            this.request.priority(),
            this.request.fairShareWeight());
    LeaseAnswer answer;
    if (uncancelled) {
      // a quick Update of the allocator, never cancelled midway: the cancel is looked at once it
      // answered (cancelling it raced its completion: a stuck workflow task on the in-process
      // server)
      LeaseAnswer[] answered = new LeaseAnswer[1];
      Workflow.newDetachedCancellationScope(() -> answered[0] = slots.requestLease(request)).run();
      answer = answered[0];
    } else {
      answer = slots.requestLease(request);
    }
    attempt = attempt.leased(answer.pool(), null);
    if (uncancelled && CancellationScope.current().isCancelRequested()) {
      throw new CanceledFailure("cancelled while asking for a slot");
    }
    Lease granted = answer.lease();
    String rejection = answer.rejection();
    if (granted == null && rejection == null) {
      slotQueuePosition(new QueuePosition(answer.queuePosition(), answer.seq()));
      if (!Workflow.await(slotWait, () -> line.granted() != null || line.rejection() != null)) {
        throw ApplicationFailure.newNonRetryableFailure(
            "No GPU became free within "
                + GenerationFailures.describe(slotWait)
                + " (place in line: "
                + line.position()
                + ")",
            ErrorCode.TIMEOUT.name());
      }
      granted = line.granted();
      rejection = line.rejection();
    }
    line = Line.NONE;
    if (granted == null) {
      log.info("generation {}: {}", generationId(), rejection);
      return rejection;
    }
    attempt = attempt.leased(answer.pool(), granted);
    slotGivenBack = false;
    log.info(
        "generation {}: leased {} on host {}", generationId(), granted.leaseId(), granted.hostId());
    return null;
  }

  private BackendOutcome runOnBackend() {
    BackendJob job =
        new BackendJob(
            generationId(),
            request.projectId(),
            request.nodeId(),
            Workflow.randomUUID().toString(),
            plan,
            attempt.baseUrl(),
            attempt.lease());
    attempt = attempt.running(job);
    return Workflow.newActivityStub(
            BackendActivities.class, GenerationActivityOptions.run(attempt.lease(), plan))
        .runOnBackend(job);
  }

  /**
   * Applies the next step {@link Recovery} decides after {@code setback}, or ends the generation.
   */
  private void recover(Setback setback, TemporalFailure failure, LeaseRevocation revocation) {
    Throwable cause = failure instanceof ApplicationFailure ? failure : failure.getCause();
    String message =
        revocation != null
            ? revocation.reason()
            : cause instanceof ApplicationFailure app
                ? app.getOriginalMessage()
                : failure.getMessage();
    switch (Recovery.next(setback, plan, attempt, message)) {
      case Recovery.RunAgain again -> {
        attempt = attempt.ranAgain();
        outcome = outcome.warning(again.warning());
      }
      case Recovery.MoveHost move -> {
        log.warn("generation {}: {}", generationId(), move.warning());
        outcome = outcome.warning(move.warning());
      }
      case Recovery.LowerTier lower -> {
        fellBack(lower.fallback());
        replanned(planning.planAtTier(request, plan, lower.tier()));
      }
      case Recovery.FallbackModel model -> {
        fellBack(model.fallback());
        replanned(planning.planOnModel(request, plan, model.modelId()));
      }
      case Recovery.GiveUp giveUp -> throw failure;
    }
  }

  private void fellBack(Fallback fallback) {
    outcome = outcome.fellBack(fallback);
    log.info("generation {}: {}", generationId(), fallback.describe());
  }

  /**
   * Takes the new plan, letting go of a model it no longer runs on and a lease too small for it.
   */
  private void replanned(GenerationPlan next) {
    plan = next;
    tierAttributeFollowsPlan();
    if (attempt.model() != null && !attempt.hasModel(plan.modelId())) {
      releaseModel();
    }
    if (attempt.lease() != null && plan.vramMb() > attempt.lease().vramMb()) {
      releaseLease("the new plan needs more GPU memory");
    }
  }

  private List<OutputRef> collect(List<BackendFile> files) {
    return Workflow.newActivityStub(
            OutputActivities.class,
            GenerationActivityOptions.outputs(attempt.lease(), plan, files.size()))
        .collectOutputs(
            new CollectRequest(
                generationId(), request.projectId(), request.nodeId(), plan.backendType(), files));
  }

  /** Stores what a failed run produced before failing, so the failure shows it; best effort. */
  private void keepPartialOutputs(ActivityFailure failure) {
    if (!(failure.getCause() instanceof ApplicationFailure app) || !app.isNonRetryable()) {
      return;
    }
    PartialFiles partial;
    try {
      partial = app.getDetails().get(PartialFiles.class);
    } catch (RuntimeException notPartialFiles) {
      return;
    }
    if (partial == null || partial.files().isEmpty()) {
      return;
    }
    try {
      List<OutputRef> kept = collect(partial.files());
      outcome =
          outcome
              .withOutputs(kept)
              .warning("Kept " + kept.size() + " output(s) produced before the failure");
    } catch (ActivityFailure collectFailed) {
      outcome =
          outcome.warning(
              "The outputs produced before the failure could not be kept: "
                  + collectFailed.getMessage());
    }
  }

  // --- the allocator's signals --------------------------------------------------------------

  @Override
  public void slotGranted(Lease granted) {
    if (attempt.lease() == null && granted != null) {
      line = new Line(granted, line.rejection(), line.position(), line.seq());
    }
  }

  @Override
  public void slotRejected(String reason) {
    if (attempt.lease() == null && reason != null) {
      line = new Line(line.granted(), reason, line.position(), line.seq());
    }
  }

  @Override
  public void slotRevoked(LeaseRevocation revocation) {
    if (revocation == null || revocation.hostId() == null) {
      return;
    }
    // matched by host, not by lease id: a lease id carries the allocator's sequence number, which
    // its replay may number otherwise (see LeaseRelease)
    boolean held = attempt.lease() != null && attempt.lease().hostId().equals(revocation.hostId());
    boolean grantedNotTaken =
        line.granted() != null && line.granted().hostId().equals(revocation.hostId());
    if (!held && !grantedNotTaken) {
      return; // a lease given up already
    }
    revoked = revocation;
    if (onHost != null) {
      onHost.cancel("the lease was revoked: " + revocation.reason());
    }
  }

  @Override
  public void slotQueuePosition(QueuePosition position) {
    if (position != null && position.seq() > line.seq() && attempt.lease() == null) {
      line = new Line(line.granted(), line.rejection(), position.position(), position.seq());
    }
  }

  @Override
  public GenerationState state() {
    return new GenerationState(
        generationId(),
        outcome.phase().status(),
        outcome.phase(),
        outcome.progress(),
        line.position(),
        request == null ? null : request.functionId(),
        plan == null ? null : plan.functionVersion(),
        request == null ? null : request.projectId(),
        request == null ? null : request.nodeId(),
        request == null ? null : request.tier(),
        plan == null ? null : plan.tierUsed(),
        outcome.warnings(),
        outcome.outputs(),
        outcome.error(),
        outcome.fallbacks(),
        plan == null ? null : plan.variant(),
        outcome.modelColdStartMillis(),
        outcome.values(),
        request == null ? null : request.parameters());
  }

  // --- the end ------------------------------------------------------------------------------

  private void enter(Phase next, double at) {
    setStatusOf(next);
    outcome = outcome.entering(next, at);
    showDetails();
  }

  /** The Temporal UI's current details follow the phase, the host and the tier. */
  private void showDetails() {
    Workflow.setCurrentDetails(GenerationSummaries.current(outcome.phase(), attempt, plan));
  }

  /**
   * The TemperaTier search attribute names the tier the plan runs at (after a step down, or when
   * the generation was started with a raw tier name such as "premium"), since {@link
   * #TIER_USED_CHANGE}. Asked only when the attribute is set and differs from the plan's tier.
   */
  private void tierAttributeFollowsPlan() {
    io.temporal.common.SearchAttributes attributes = Workflow.getTypedSearchAttributes();
    if (plan == null
        || plan.tierUsed() == null
        || !attributes.containsKey(GenerationSearchAttributes.TIER)
        || plan.tierUsed().equals(attributes.get(GenerationSearchAttributes.TIER))) {
      return;
    }
    if (Workflow.getVersion(TIER_USED_CHANGE, Workflow.DEFAULT_VERSION, 1)
        == Workflow.DEFAULT_VERSION) {
      return;
    }
    Workflow.upsertTypedSearchAttributes(GenerationSearchAttributes.TIER.valueSet(plan.tierUsed()));
  }

  /**
   * The TemperaStatus search attribute follows the status when the generation was started with
   * search attributes (so they are registered on this server).
   */
  private void setStatusOf(Phase next) {
    if (next.status() != outcome.phase().status()
        && Workflow.getTypedSearchAttributes().containsKey(GenerationSearchAttributes.STATUS)) {
      Workflow.upsertTypedSearchAttributes(
          GenerationSearchAttributes.STATUS.valueSet(next.status().name()));
    }
  }

  private void end(GenerationError error) {
    Outcome ended = outcome.ended(error);
    setStatusOf(ended.phase());
    outcome = ended;
    showDetails();
    if (error != null && ErrorCode.CANCELLED.name().equals(error.code())) {
      // someone asked for it: one line, not a warning
      log.info("generation {} cancelled: {}", generationId(), error.message());
    } else if (error != null) {
      log.warn(
          "generation {} ended {}: {} {}",
          generationId(),
          ended.phase(),
          error.code(),
          error.message());
    }
  }

  private static boolean cancelled(TemporalFailure failure) {
    return failure instanceof CanceledFailure || failure.getCause() instanceof CanceledFailure;
  }

  private GenerationError cancelledError() {
    String reason = CancellationScope.current().getCancellationReason();
    if (reason == null || reason.isBlank()) {
      reason = "the workflow was cancelled";
    }
    return GenerationError.of(ErrorCode.CANCELLED, "Cancelled: " + reason);
  }

  /** Runs whichever way the generation ended, even when the workflow itself was cancelled. */
  private void cleanUp() {
    Workflow.newDetachedCancellationScope(
            () -> {
              if (outcome.phase() == Phase.CANCELLED && attempt.job() != null) {
                try {
                  Workflow.newActivityStub(
                          BackendActivities.class,
                          GenerationActivityOptions.cleanup(
                              attempt.lease(),
                              GenerationSummaries.cancelOnBackend(attempt.lease())))
                      .cancelOnBackend(attempt.job());
                } catch (ActivityFailure e) {
                  outcome =
                      outcome.warning("The backend could not be told to stop: " + e.getMessage());
                }
              }
              releaseModel();
              releaseLease("the generation ended " + outcome.phase().status());
            })
        .run();
  }

  /** Lets the model's container go on the leased host; best effort, bounded. */
  private void releaseModel() {
    if (attempt.model() == null || attempt.lease() == null) {
      return;
    }
    try {
      Workflow.newActivityStub(
              ModelActivities.class,
              GenerationActivityOptions.cleanup(
                  attempt.lease(),
                  GenerationSummaries.releaseModel(attempt.lease(), attempt.model())))
          .releaseModel(attempt.model());
    } catch (ActivityFailure e) {
      outcome = outcome.warning("The model's container could not be released: " + e.getMessage());
    }
    attempt = attempt.withoutModel();
  }

  /**
   * Gives back the lease (or the place in line) to the pool's allocator, by signal, unless the
   * run's activity gave it back already.
   */
  private void releaseLease(String reason) {
    if (attempt.pool() == null) {
      return;
    }
    if (slotGivenBack) {
      slotGivenBack = false;
      attempt = attempt.withoutLease();
      line = Line.NONE;
      return;
    }
    try {
      Workflow.newExternalWorkflowStub(
              SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(attempt.pool()))
          .release(new LeaseRelease(generationId(), null, reason));
    } catch (RuntimeException e) {
      outcome =
          outcome.warning("The slot allocator could not be told of the release: " + e.getMessage());
    }
    attempt = attempt.withoutLease();
    line = Line.NONE;
  }

  /**
   * Starts the delivery of the generation's end to its webhook, if it names one: a child workflow
   * the generation does not wait for (abandoned when the generation closes), so the generation
   * completes, fails or is cancelled exactly as it would without a webhook, its result visible at
   * once, while the receiver is tried for as long as the retry schedule says. Waits only until the
   * child started (a child not yet started when its parent closes would never start). Runs even
   * when the generation was cancelled.
   */
  private void deliverWebhook(GenerationResult result) {
    Webhook webhook = request.webhook();
    if (webhook == null
        || webhook.url() == null
        || Workflow.getVersion(WEBHOOK_CHANGE, Workflow.DEFAULT_VERSION, 1)
            == Workflow.DEFAULT_VERSION) {
      return;
    }
    WebhookDeliveries.start(
        generationId(),
        request.projectId(),
        WebhookEvent.ofGeneration(
            result,
            webhook,
            java.time.Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString()));
  }

  /** How the generation ended, as its workflow's result (or its failure's details) tells it. */
  private GenerationResult result() {
    return new GenerationResult(
        generationId(),
        outcome.phase().status(),
        outcome.progress(),
        request.functionId(),
        plan == null ? null : plan.functionVersion(),
        request.projectId(),
        request.nodeId(),
        request.tier(),
        plan == null ? null : plan.tierUsed(),
        outcome.outputs(),
        outcome.error(),
        outcome.warnings(),
        outcome.fallbacks(),
        plan == null ? null : plan.variant(),
        outcome.modelColdStartMillis(),
        outcome.values(),
        request.parameters());
  }

  /** The result when it succeeded; else the failure Temporal records (Failed or Canceled). */
  private GenerationResult resultOrThrow(GenerationResult result) {
    GenerationError error = outcome.error();
    if (error == null) {
      return result;
    }
    if (outcome.phase() == Phase.CANCELLED && CancellationScope.current().isCancelRequested()) {
      // a Canceled workflow records no details: how it ended goes into its memo instead
      Workflow.upsertMemo(Map.of(GenerationEnds.MEMO_CANCELLED, result));
      throw new CanceledFailure(error.message());
    }
    throw ApplicationFailure.newBuilder()
        .setType(error.code())
        .setMessage(error.message())
        .setNonRetryable(true)
        .setDetails(error, result)
        .build();
  }

  private String generationId() {
    return Workflow.getInfo().getWorkflowId();
  }
}
