package io.tempera.generation;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/** The steps of a generation that touch the world. Each throws ApplicationFailure typed by {@link ErrorCode}. */
@ActivityInterface
public interface GenerationActivities {

  /** Resolve the function's template (current version) and translate the request into a plan. */
  @ActivityMethod
  GenerationPlan resolveTemplate(GenerationRequest request);

  /**
   * Translate the request again at another tier, from the same template version as {@code plan}
   * (for a fallback down the tier chain).
   */
  @ActivityMethod
  GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier);

  /** Lease a slot; fails with BACKEND_BUSY (retryable) while none is free. */
  @ActivityMethod
  SlotLease acquireSlot(SlotRequest request);

  /**
   * Ask the slot allocator of this worker's pool for a lease sized by the plan's model (or tier)
   * VRAM: granted at once, or a place in the queue, the lease following by signal. Asking again
   * gives the same answer.
   */
  @ActivityMethod
  io.tempera.slots.LeaseAnswer requestLease(SlotRequest request, GenerationPlan plan);

  /**
   * On the leased host: start (or reuse) the container of the plan's model for this generation and
   * wait until it is healthy. MODEL_UNAVAILABLE when it cannot start (non-retryable when this host
   * runs no container engine), CONTAINER_CRASHED, BACKEND_BUSY when the host's memory cannot be freed.
   */
  @ActivityMethod
  ModelEndpoint startModel(ModelStart start);

  /** On the leased host: the generation no longer needs the model's container. Idempotent. */
  @ActivityMethod
  void releaseModel(ModelStart start);

  /**
   * The plan again on another model of the registry (a model fallback): same template version and
   * tier, the model replaced. MODEL_UNAVAILABLE (non-retryable) when the registry has no such model
   * or it speaks another backend protocol.
   */
  @ActivityMethod
  GenerationPlan planOnModel(GenerationRequest request, GenerationPlan plan, String modelId);

  /** Submit to the backend (or re-attach to the same run) and follow it to its end, heartbeating. */
  @ActivityMethod
  BackendOutcome runOnBackend(BackendJob job);

  /** Ask the backend to stop the run (interrupt it if running, drop it if queued). */
  @ActivityMethod
  void cancelOnBackend(BackendJob job);

  /** Store the run's files under the project's output folder. */
  @ActivityMethod
  List<OutputRef> collectOutputs(CollectRequest request);

  /** Release the lease. Idempotent. */
  @ActivityMethod
  void releaseSlot(SlotLease lease);
}
