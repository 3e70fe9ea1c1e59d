package io.tempera.generation;

import io.tempera.slots.Lease;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRelease;
import io.tempera.slots.QueuePosition;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TemporalFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;

/**
 * The business process of one generation: resolve the template, lease a GPU slot from the pool's
 * allocator (waiting in line, its place visible), start the model on the leased host, run on the
 * backend and collect the outputs there (the host's own task queue), release the model and the
 * lease. Failure policy sits beside each stub.
 */
public class GenerationWorkflowImpl implements GenerationWorkflow {

  private static final Logger log = Workflow.getLogger(GenerationWorkflowImpl.class);

  /** Errors no retry can fix: the request or the backend's verdict on it is wrong. */
  private static final String[] PERMANENT = {
    ErrorCode.INVALID_REQUEST.name(),
    ErrorCode.UNKNOWN_FUNCTION.name(),
    ErrorCode.BACKEND_VALIDATION.name(),
    ErrorCode.OUT_OF_GPU_MEMORY.name(),
    ErrorCode.EXECUTION_ERROR.name(),
    ErrorCode.CANCELLED.name()
  };

  /** How long a generation waits in line for a GPU before it fails with TIMEOUT. */
  static final Duration SLOT_WAIT = Duration.ofMinutes(30);

  /** Template resolution is local and fast: a few quick tries. */
  private final GenerationActivities resolver =
      Workflow.newActivityStub(
          GenerationActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(10))
              .setRetryOptions(
                  RetryOptions.newBuilder().setMaximumAttempts(3).setDoNotRetry(PERMANENT).build())
              .build());

  /** Waiting for a slot: BACKEND_BUSY is retried with backoff for up to 30 minutes. */
  private final GenerationActivities slots =
      Workflow.newActivityStub(
          GenerationActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(10))
              .setScheduleToCloseTimeout(Duration.ofMinutes(30))
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofMillis(200))
                      .setBackoffCoefficient(1.5)
                      .setMaximumInterval(Duration.ofSeconds(5))
                      .setDoNotRetry(PERMANENT)
                      .build())
              .build());

  /**
   * Asking the allocator for a lease: a quick call (the lease follows by signal when it has to
   * wait). A cancel waits for the call to finish, so the release that follows always comes after it.
   */
  private final GenerationActivities leases =
      Workflow.newActivityStub(
          GenerationActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(30))
              .setScheduleToCloseTimeout(SLOT_WAIT)
              .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
              .setRetryOptions(
                  RetryOptions.newBuilder()
                      .setInitialInterval(Duration.ofMillis(500))
                      .setMaximumInterval(Duration.ofSeconds(10))
                      .setDoNotRetry(PERMANENT)
                      .build())
              .build());

  /** A host queue nobody serves for this long means the leased host is gone. */
  static final Duration HOST_SCHEDULE_TO_START = Duration.ofMinutes(5);

  /** Copying outputs: a few tries, each bounded. */
  private static final ActivityOptions OUTPUT_OPTIONS =
      ActivityOptions.newBuilder()
          .setStartToCloseTimeout(Duration.ofMinutes(2))
          .setRetryOptions(
              RetryOptions.newBuilder()
                  .setInitialInterval(Duration.ofSeconds(1))
                  .setMaximumAttempts(3)
                  .setDoNotRetry(PERMANENT)
                  .build())
          .build();

  private final GenerationActivities outputs = Workflow.newActivityStub(GenerationActivities.class, OUTPUT_OPTIONS);

  /** Cleanup (release, backend cancel) must happen: retried for up to 10 minutes. */
  private static final ActivityOptions CLEANUP_OPTIONS =
      ActivityOptions.newBuilder()
          .setStartToCloseTimeout(Duration.ofSeconds(15))
          .setScheduleToCloseTimeout(Duration.ofMinutes(10))
          .setRetryOptions(
              RetryOptions.newBuilder()
                  .setInitialInterval(Duration.ofMillis(500))
                  .setMaximumInterval(Duration.ofSeconds(10))
                  .build())
          .build();

  private final GenerationActivities cleanup = Workflow.newActivityStub(GenerationActivities.class, CLEANUP_OPTIONS);

  private String generationId;
  /** How long the model's container took to start (0: reused), for the state; null without one. */
  private Long modelColdStartMillis;
  private GenerationRequest request;
  private GenerationPlan plan;
  private Phase phase = Phase.RESOLVING;
  private double progress;
  private final List<String> warnings = new ArrayList<>();
  private final List<Fallback> fallbacks = new ArrayList<>();
  private List<OutputRef> outputRefs = List.of();
  private GenerationError error;
  private boolean cancelRequested;
  private String cancelReason;
  private CancellationScope mainScope;
  private BackendJob job;
  private SlotLease lease;
  /** Since {@link #ALLOCATOR_CHANGE}: the allocator's lease, its pool, the place in line, the model. */
  private Lease hostLease;
  private Lease grantedBySignal;
  private String rejectedBySignal;
  private String slotPool;
  private Integer queuePosition;
  private long queueSeq = -1;
  private ModelStart modelStarted;
  private ModelEndpoint modelEndpoint;
  /** Since {@link #PHASE_TIMEOUTS_CHANGE}: the plan's phase timeouts apply; a stalled run runs again once. */
  private boolean phaseTimeouts;
  private boolean ranAgainAfterStall;

  @Override
  public GenerationResult run(GenerationRequest request) {
    this.request = request;
    this.generationId = Workflow.getInfo().getWorkflowId();
    mainScope = Workflow.newCancellationScope(this::process);
    try {
      if (!cancelRequested) {
        mainScope.run();
      }
      if (cancelRequested && phase != Phase.SUCCEEDED) {
        finishCancelled();
      }
    } catch (CanceledFailure e) {
      finishCancelled();
    } catch (TemporalFailure e) {
      if (e.getCause() instanceof CanceledFailure) {
        finishCancelled();
      } else {
        fail(e);
      }
    } finally {
      cleanUp();
    }
    return result();
  }

  private void process() {
    plan = resolver.resolveTemplate(request);
    warnings.addAll(plan.warnings());
    phaseTimeouts = Workflow.getVersion(PHASE_TIMEOUTS_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;

    enter(Phase.WAITING_FOR_SLOT, 0.02);
    if (Workflow.getVersion(ALLOCATOR_CHANGE, Workflow.DEFAULT_VERSION, 1) < 1) {
      lease =
          slots.acquireSlot(
              new SlotRequest(generationId, plan.functionId(), plan.tierUsed(), plan.backendType()));
    } else {
      leaseAndStartModel();
    }

    enter(Phase.GENERATING, 0.05);
    BackendOutcome outcome;
    try {
      outcome = runWithFallbacks();
    } catch (ActivityFailure failure) {
      keepPartialOutputs(failure);
      throw failure;
    }
    if (outcome.interrupted()) {
      cancelRequested = true;
      cancelReason = cancelReason == null ? "interrupted on the backend" : cancelReason;
      return;
    }

    enter(Phase.COLLECTING_OUTPUTS, 0.95);
    outputRefs =
        outputsStub().collectOutputs(
            new CollectRequest(
                generationId, request.projectId(), request.nodeId(), plan.backendType(), outcome.files()));
    if (outputRefs.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The generator finished without producing any output", ErrorCode.OUTPUT_MISSING.name());
    }
    enter(Phase.SUCCEEDED, 1.0);
  }

  /**
   * Runs the plan on the backend. When the GPU runs out of memory, steps down the tier chain
   * (ultra → high → standard → draft) and runs again at the lower tier, recording why.
   */
  private BackendOutcome runWithFallbacks() {
    while (true) {
      job = new BackendJob(generationId, request.projectId(), request.nodeId(), Workflow.randomUUID().toString(), plan,
          modelEndpoint == null ? null : modelEndpoint.baseUrl());
      try {
        return backendFor(plan).runOnBackend(job);
      } catch (ActivityFailure failure) {
        if (phaseTimeouts && stalled(failure) && !ranAgainAfterStall) {
          // a wedged run was stopped on the backend; it cannot be re-attached: run it again, once
          ranAgainAfterStall = true;
          warnings.add(((ApplicationFailure) failure.getCause()).getOriginalMessage() + "; it was started again");
          enter(Phase.GENERATING, 0.05);
          continue;
        }
        String lower = lowerTier(plan.tierUsed());
        if (!outOfMemory(failure) || lower == null
            || Workflow.getVersion(FALLBACK_CHANGE, Workflow.DEFAULT_VERSION, 1) < 1) {
          throw failure;
        }
        Fallback fallback = new Fallback(plan.tierUsed(), lower, "ran out of GPU memory");
        fallbacks.add(fallback);
        warnings.add(fallback.describe());
        log.info("generation {}: {}", generationId, fallback.describe());
        plan = resolver.planAtTier(request, plan, lower);
      }
    }
  }

  /** Workflow.getVersion change id: keeping the files a failed run produced before it failed. */
  static final String PARTIAL_OUTPUTS_CHANGE = "partial-outputs-on-failure";

  /** Stores what a failed run produced before failing, so the failure shows it; best effort. */
  private void keepPartialOutputs(ActivityFailure failure) {
    if (!(failure.getCause() instanceof ApplicationFailure app)
        || !app.isNonRetryable()
        || Workflow.getVersion(PARTIAL_OUTPUTS_CHANGE, Workflow.DEFAULT_VERSION, 1) < 1) {
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
      outputRefs = outputsStub().collectOutputs(
          new CollectRequest(generationId, request.projectId(), request.nodeId(), plan.backendType(), partial.files()));
      warnings.add("Kept " + outputRefs.size() + " output(s) produced before the failure");
    } catch (ActivityFailure collectFailed) {
      warnings.add("The outputs produced before the failure could not be kept: " + collectFailed.getMessage());
    }
  }

  /** Workflow.getVersion change id: the template's and tier's phase timeouts; a stalled run runs again once. */
  static final String PHASE_TIMEOUTS_CHANGE = "phase-timeouts";

  private static boolean stalled(ActivityFailure failure) {
    return failure.getCause() instanceof ApplicationFailure app && ErrorCode.STALLED.name().equals(app.getType());
  }

  /** How long this generation may wait in line for a GPU. */
  private Duration slotWait() {
    return phaseTimeouts ? plan.phaseTimeouts().slotWait() : SLOT_WAIT;
  }

  private static String describe(Duration d) {
    if (d.toSeconds() == 0 || d.toSeconds() % 60 != 0) {
      return d.toSeconds() + " s";
    }
    return d.toMinutes() == 1 ? "1 minute" : d.toMinutes() + " minutes";
  }

  /** Workflow.getVersion change id: falling back to a lower tier on out-of-memory. */
  static final String FALLBACK_CHANGE = "tier-fallback-on-oom";

  private static boolean outOfMemory(ActivityFailure failure) {
    return failure.getCause() instanceof ApplicationFailure app
        && ErrorCode.OUT_OF_GPU_MEMORY.name().equals(app.getType());
  }

  /** The next tier down, or null at the bottom. */
  static String lowerTier(String tier) {
    return switch (tier == null ? "" : tier) {
      case "ultra" -> "high";
      case "high" -> "standard";
      case "standard" -> "draft";
      default -> null;
    };
  }

  /**
   * Running on the backend: bounded by the template's timeout, heartbeats every few seconds so a
   * lost worker is noticed quickly; a retried attempt re-attaches to the same run id.
   */
  private GenerationActivities backendFor(GenerationPlan plan) {
    return Workflow.newActivityStub(
        GenerationActivities.class,
        onHost(ActivityOptions.newBuilder())
            .setStartToCloseTimeout(Duration.ofSeconds(Math.max(10, plan.timeoutSeconds())))
            .setHeartbeatTimeout(Duration.ofSeconds(10))
            .setRetryOptions(
                RetryOptions.newBuilder()
                    .setInitialInterval(Duration.ofSeconds(1))
                    .setMaximumInterval(Duration.ofSeconds(10))
                    .setMaximumAttempts(4)
                    .setDoNotRetry(PERMANENT)
                    .build())
            .build());
  }

  /** Workflow.getVersion change id: leases from the pool's slot allocator, work on the leased host, models. */
  static final String ALLOCATOR_CHANGE = "slot-allocator-leases";

  /**
   * Leases a slot sized for the plan's model, waiting in line when none is free, then starts the
   * model's container on the leased host. A model that fails to load is replaced by the registry's
   * fallback model (recorded like a tier fallback); a plan no GPU of the pool can hold steps down
   * the tier chain.
   */
  private void leaseAndStartModel() {
    Set<String> triedModels = new LinkedHashSet<>();
    while (true) {
      if (hostLease == null) {
        acquireLease();
        if (hostLease == null) {
          continue; // stepped down a tier: ask again
        }
      }
      if (plan.model() == null || !plan.model().containerised()) {
        return;
      }
      enter(Phase.STARTING_MODEL, 0.03);
      triedModels.add(plan.model().id());
      modelStarted = new ModelStart(generationId, plan.model(), hostLease.gpuIndex());
      try {
        modelEndpoint = modelStub(plan).startModel(modelStarted);
        modelColdStartMillis = modelEndpoint.reused() ? 0L : modelEndpoint.coldStartMillis();
        return;
      } catch (ActivityFailure failure) {
        String fallback = plan.model().fallback();
        if (!failedToLoad(failure) || fallback == null || triedModels.contains(fallback)) {
          throw failure;
        }
        releaseModel();
        Fallback step = Fallback.ofModel(plan.tierUsed(), plan.model().id(), fallback, "failed to load");
        fallbacks.add(step);
        warnings.add(step.describe());
        log.info("generation {}: {}", generationId, step.describe());
        plan = resolver.planOnModel(request, plan, fallback);
        if (plan.model() != null && plan.model().vramMb() > hostLease.vramMb()) {
          releaseLease("the fallback model needs more GPU memory");
          enter(Phase.WAITING_FOR_SLOT, 0.02);
        }
      }
    }
  }

  /** Asks for a lease and waits for it; leaves {@link #hostLease} null after stepping down a tier. */
  private void acquireLease() {
    grantedBySignal = null;
    rejectedBySignal = null;
    LeaseAnswer answer =
        leases.requestLease(new SlotRequest(generationId, plan.functionId(), plan.tierUsed(), plan.backendType()), plan);
    slotPool = answer.pool();
    if (!answer.granted() && answer.rejection() == null) {
      slotQueuePosition(new QueuePosition(answer.queuePosition(), answer.seq()));
      Duration wait = slotWait();
      if (!Workflow.await(wait, () -> grantedBySignal != null || rejectedBySignal != null)) {
        throw ApplicationFailure.newNonRetryableFailure(
            "No GPU became free within " + describe(wait) + " (place in line: " + queuePosition + ")",
            ErrorCode.TIMEOUT.name());
      }
      if (grantedBySignal == null) {
        answer = new LeaseAnswer(answer.pool(), null, 0, answer.seq(), rejectedBySignal);
      } else {
        answer = new LeaseAnswer(answer.pool(), grantedBySignal, 0, answer.seq(), null);
      }
      queuePosition = null;
    }
    if (answer.rejection() != null) {
      String lower = lowerTier(plan.tierUsed());
      if (lower == null) {
        throw ApplicationFailure.newNonRetryableFailure(answer.rejection(), ErrorCode.OUT_OF_GPU_MEMORY.name());
      }
      Fallback step = new Fallback(plan.tierUsed(), lower, "needs more GPU memory than any host has");
      fallbacks.add(step);
      warnings.add(step.describe());
      plan = resolver.planAtTier(request, plan, lower);
      return;
    }
    hostLease = answer.lease();
    queuePosition = null;
    log.info("generation {}: leased {} on host {}", generationId, hostLease.leaseId(), hostLease.hostId());
  }

  private static boolean failedToLoad(ActivityFailure failure) {
    // a start that ran out of time failed to load; a host nobody serves (schedule-to-start) is not the model's fault
    return failure.getCause() instanceof TimeoutFailure timeout
            && timeout.getTimeoutType() != io.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
        || failure.getCause() instanceof ApplicationFailure app && ErrorCode.MODEL_UNAVAILABLE.name().equals(app.getType());
  }

  /** Activity options on the leased host's own queue (since {@link #ALLOCATOR_CHANGE}). */
  private ActivityOptions.Builder onHost(ActivityOptions.Builder options) {
    if (hostLease != null) {
      options.setTaskQueue(hostLease.taskQueue()).setScheduleToStartTimeout(HOST_SCHEDULE_TO_START);
    }
    return options;
  }

  /** Starting the model: bounded by the model's start timeout, a few tries. */
  private GenerationActivities modelStub(GenerationPlan plan) {
    int startSeconds = plan.model().startTimeoutSeconds() > 0 ? plan.model().startTimeoutSeconds() : 300;
    return Workflow.newActivityStub(
        GenerationActivities.class,
        onHost(ActivityOptions.newBuilder())
            .setStartToCloseTimeout(Duration.ofSeconds(startSeconds + 10))
            .setRetryOptions(
                RetryOptions.newBuilder()
                    .setInitialInterval(Duration.ofSeconds(2))
                    .setMaximumAttempts(3)
                    .setDoNotRetry(PERMANENT)
                    .build())
            .build());
  }

  /** Collecting outputs, on the leased host when there is one, within the plan's output timeout. */
  private GenerationActivities outputsStub() {
    if (phaseTimeouts) {
      return Workflow.newActivityStub(GenerationActivities.class,
          onHost(ActivityOptions.newBuilder(OUTPUT_OPTIONS)).setStartToCloseTimeout(plan.phaseTimeouts().output()).build());
    }
    return hostLease == null ? outputs
        : Workflow.newActivityStub(GenerationActivities.class, onHost(ActivityOptions.newBuilder(OUTPUT_OPTIONS)).build());
  }

  /** Cleanup on the leased host when there is one. */
  private GenerationActivities cleanupStub() {
    return hostLease == null ? cleanup
        : Workflow.newActivityStub(GenerationActivities.class, onHost(ActivityOptions.newBuilder(CLEANUP_OPTIONS)).build());
  }

  /** Lets the model's container go on the leased host; best effort, bounded. */
  private void releaseModel() {
    if (modelStarted == null || hostLease == null) {
      return;
    }
    GenerationActivities host =
        Workflow.newActivityStub(
            GenerationActivities.class,
            onHost(ActivityOptions.newBuilder())
                .setStartToCloseTimeout(Duration.ofSeconds(30))
                .setScheduleToCloseTimeout(Duration.ofMinutes(2))
                .setRetryOptions(RetryOptions.newBuilder().setInitialInterval(Duration.ofSeconds(1)).build())
                .build());
    try {
      host.releaseModel(modelStarted);
    } catch (ActivityFailure e) {
      warnings.add("The model's container could not be released: " + e.getMessage());
    }
    modelStarted = null;
    modelEndpoint = null;
  }

  /**
   * Gives back the lease (or the place in line) to the pool's allocator, by signal; a lease from a
   * worker's local slot pool (a worker without an allocator) goes back by activity.
   */
  private void releaseLease(String reason) {
    if (slotPool == null) {
      if (hostLease != null) {
        try {
          cleanupStub().releaseSlot(new SlotLease(hostLease.leaseId(), hostLease.pool(), generationId));
        } catch (ActivityFailure e) {
          warnings.add("The slot could not be released: " + e.getMessage());
        }
      }
      hostLease = null;
      return;
    }
    try {
      Workflow.newExternalWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(slotPool))
          .release(new LeaseRelease(generationId, null, reason));
    } catch (RuntimeException e) {
      warnings.add("The slot allocator could not be told of the release: " + e.getMessage());
    }
    hostLease = null;
    queuePosition = null;
  }

  @Override
  public void slotGranted(Lease granted) {
    if (hostLease == null && granted != null) {
      grantedBySignal = granted;
    }
  }

  @Override
  public void slotRejected(String reason) {
    if (hostLease == null && reason != null) {
      rejectedBySignal = reason;
    }
  }

  @Override
  public void slotQueuePosition(QueuePosition position) {
    if (position != null && position.seq() > queueSeq && hostLease == null) {
      queueSeq = position.seq();
      queuePosition = position.position();
    }
  }

  @Override
  public GenerationState state() {
    return new GenerationState(
        generationId,
        phase.status(),
        phase,
        progress,
        queuePosition,
        request == null ? null : request.functionId(),
        plan == null ? null : plan.functionVersion(),
        request == null ? null : request.projectId(),
        request == null ? null : request.nodeId(),
        request == null ? null : request.tier(),
        plan == null ? null : plan.tierUsed(),
        warnings,
        outputRefs,
        error,
        fallbacks,
        plan == null ? null : plan.variant(),
        modelColdStartMillis);
  }

  @Override
  public void cancel(String reason) {
    if (phase.status().terminal() || cancelRequested) {
      return;
    }
    cancelRequested = true;
    cancelReason = reason == null || reason.isBlank() ? "cancelled by the user" : reason;
    log.info("generation {} cancel requested: {}", generationId, cancelReason);
    if (mainScope != null) {
      mainScope.cancel(cancelReason);
    }
  }

  private void enter(Phase next, double progressAt) {
    setPhase(next);
    progress = Math.max(progress, progressAt);
  }

  /**
   * Changes the phase, and the TemperaStatus search attribute with it when the generation was
   * started with search attributes (so they are registered on this server).
   */
  private void setPhase(Phase next) {
    boolean statusChanged = next.status() != phase.status();
    phase = next;
    if (statusChanged && Workflow.getTypedSearchAttributes().containsKey(GenerationSearchAttributes.STATUS)) {
      Workflow.upsertTypedSearchAttributes(GenerationSearchAttributes.STATUS.valueSet(next.status().name()));
    }
  }

  private void finishCancelled() {
    if (cancelReason == null) {
      cancelReason = "the workflow was cancelled";
    }
    setPhase(Phase.CANCELLED);
    error = GenerationError.of(ErrorCode.CANCELLED, "Cancelled: " + cancelReason);
  }

  private void fail(TemporalFailure failure) {
    Throwable cause = failure.getCause();
    ErrorCode code = ErrorCode.INTERNAL;
    String message = failure.getMessage();
    if (failure instanceof ApplicationFailure app) {
      cause = app;
    }
    if (cause instanceof ApplicationFailure app) {
      code = ErrorCode.fromType(app.getType());
      message = app.getOriginalMessage();
    } else if (cause instanceof TimeoutFailure timeout
        && timeout.getTimeoutType() == io.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      code = ErrorCode.BACKEND_UNREACHABLE;
      message = "The GPU host " + (hostLease == null ? "" : hostLease.hostId() + " ") + "running this generation stopped answering";
    } else if (cause instanceof TimeoutFailure) {
      code = ErrorCode.TIMEOUT;
      message = phaseTimeouts ? timedOut() : "The generation took longer than its time limit";
    }
    error = GenerationError.of(code, message);
    setPhase(Phase.FAILED);
    log.warn("generation {} failed: {} {}", generationId, code, message);
  }

  /** Which limit ran out, by the phase it ran out in. */
  private String timedOut() {
    return switch (phase) {
      case STARTING_MODEL -> "The generator did not start within "
          + describe(Duration.ofSeconds(plan.model() == null ? 0 : plan.model().startTimeoutSeconds()));
      case GENERATING -> "The generator took longer than " + describe(Duration.ofSeconds(plan.timeoutSeconds()));
      case COLLECTING_OUTPUTS -> "Collecting the outputs took longer than " + describe(plan.phaseTimeouts().output());
      default -> "The generation took longer than its time limit (" + phase.name().toLowerCase(java.util.Locale.ROOT) + ")";
    };
  }

  /** Runs whatever way the generation ended, even when the workflow itself was cancelled. */
  private void cleanUp() {
    Workflow.newDetachedCancellationScope(
            () -> {
              if (phase == Phase.CANCELLED && job != null) {
                try {
                  cleanupStub().cancelOnBackend(job);
                } catch (ActivityFailure e) {
                  warnings.add("The backend could not be told to stop: " + e.getMessage());
                }
              }
              if (lease != null) {
                cleanup.releaseSlot(lease);
                lease = null;
              }
              releaseModel();
              releaseLease("the generation ended " + phase.status());
            })
        .run();
  }

  private GenerationResult result() {
    return new GenerationResult(
        generationId,
        phase.status(),
        request.functionId(),
        plan == null ? null : plan.functionVersion(),
        plan == null ? null : plan.tierUsed(),
        outputRefs,
        error,
        warnings,
        fallbacks,
        plan == null ? null : plan.variant());
  }
}
