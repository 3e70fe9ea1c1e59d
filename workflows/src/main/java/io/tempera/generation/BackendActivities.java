package io.tempera.generation;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/** Running a plan on its backend (ComfyUI, a Gradio app, a script), on the leased host. */
@ActivityInterface
public interface BackendActivities {

  /**
   * Submit to the backend (or re-attach to the same run) and follow it to its end, heartbeating.
   */
  @ActivityMethod
  BackendOutcome runOnBackend(BackendJob job);

  /** Ask the backend to stop the run (interrupt it if running, drop it if queued). Idempotent. */
  @ActivityMethod
  void cancelOnBackend(BackendJob job);
}
