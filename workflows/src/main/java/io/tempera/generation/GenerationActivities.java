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
