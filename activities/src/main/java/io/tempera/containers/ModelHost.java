package io.tempera.containers;

import io.tempera.models.ModelSpec;

/**
 * The model services of one worker host: starts (or reuses) the container of a model for a holder
 * (a generation), and is told when the holder no longer needs it. Implementations keep a model's
 * container running while any holder has it; idle ones may be stopped or evicted.
 */
public interface ModelHost {

  /**
   * The running, healthy service of {@code model} for {@code holder}: reuses a running healthy
   * container, else starts one (evicting least recently used idle containers when the host's GPU
   * memory is needed) and waits for its health check. Asking again for the same holder and model
   * returns the same service. Fails with {@link ModelHostException}.
   *
   * @param gpuIndex the GPU the holder's lease is on (null: none / CPU)
   */
  RunningModel acquire(String holder, ModelSpec model, Integer gpuIndex);

  /** The holder no longer needs the model. Idempotent. */
  void release(String holder, String modelId);

  /**
   * Throws {@link ModelHostException} CONTAINER_CRASHED, with the dead container's last log lines,
   * when the service {@code holder} was given has died since (call it when a backend call on it
   * failed, to tell a crash from a backend error). The next {@link #acquire} gets a restarted one.
   */
  default void verify(String holder, String modelId) {}

  /**
   * The service {@code holder} was given for the model as it runs now: after a crash, the restarted
   * container (waiting for its health check); when the restart failed, or this process started
   * after the holder was given the model (a worker restart), the model is acquired for the holder
   * again (reusing a running container of it). Empty when this host knows nothing of the holder or
   * the model. Fails with {@link ModelHostException} when the model was given up on or cannot
   * start.
   */
  default java.util.Optional<RunningModel> current(String holder, ModelSpec model) {
    return java.util.Optional.empty();
  }
}
