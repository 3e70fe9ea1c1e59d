package io.tempera.generation;

import io.temporal.api.enums.v1.TimeoutType;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.TimeoutFailure;

/** What went wrong on the way that a generation may recover from (everything else ends it). */
public enum Setback {
  /** No GPU of the pool can hold what the plan needs. */
  NO_GPU_FITS,
  /** The plan's model container did not load (it timed out starting, or was unavailable). */
  MODEL_FAILED_TO_LOAD,
  /** The run ran out of GPU memory. */
  OUT_OF_GPU_MEMORY,
  /** The run went silent and was stopped by the run watchdog. */
  STALLED,
  /** The backend failed the run with a fault that can pass (not the request's fault). */
  BACKEND_FAULT,
  /** The leased host was lost (the allocator took the lease back): move to another GPU. */
  HOST_LOST,
  /** Nothing to recover from: the failure ends the generation. */
  NONE;

  /** What a failed model start means. */
  public static Setback ofModelStart(ActivityFailure failure) {
    // a start that ran out of time failed to load; a host nobody serves (schedule-to-start) is not
    // the model's fault
    if (failure.getCause() instanceof TimeoutFailure timeout
        && timeout.getTimeoutType() != TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      return MODEL_FAILED_TO_LOAD;
    }
    return is(failure, ErrorCode.MODEL_UNAVAILABLE) ? MODEL_FAILED_TO_LOAD : NONE;
  }

  /** What a failed backend run means. */
  public static Setback ofRun(ActivityFailure failure) {
    if (is(failure, ErrorCode.STALLED)) {
      return STALLED;
    }
    if (is(failure, ErrorCode.BACKEND_FAULT)) {
      return BACKEND_FAULT;
    }
    return is(failure, ErrorCode.OUT_OF_GPU_MEMORY) ? OUT_OF_GPU_MEMORY : NONE;
  }

  private static boolean is(ActivityFailure failure, ErrorCode code) {
    return failure.getCause() instanceof ApplicationFailure app
        && code.name().equals(app.getType());
  }
}
