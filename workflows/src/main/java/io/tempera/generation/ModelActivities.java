package io.tempera.generation;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/** The model containers of the leased host (its own task queue). */
@ActivityInterface
public interface ModelActivities {

  /**
   * Start (or reuse) the container of the model for this generation and wait until it is healthy,
   * heartbeating. MODEL_UNAVAILABLE when it cannot start (non-retryable when this host runs no
   * container engine), CONTAINER_CRASHED, BACKEND_BUSY when the host's memory cannot be freed.
   */
  @ActivityMethod
  ModelEndpoint startModel(ModelStart start);

  /** The generation no longer needs the model's container. Idempotent. */
  @ActivityMethod
  void releaseModel(ModelStart start);
}
