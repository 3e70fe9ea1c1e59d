package io.tempera.activities.run;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Watches one backend run for the ways it can hang without failing: waiting in the backend's own
 * queue too long, running with no sign of progress (a wedged backend), and running past the run's
 * time limit (counted from when the run got its turn on the host's GPU, not from when its activity
 * started waiting for it). Any progress the backend reports (a step, a node starting or finishing,
 * a queue update, a preview) counts; a run is queued while its last report gave a place in the
 * backend's queue. Watches once armed; thread-safe; trips once.
 */
final class RunWatchdog {

  /** Why a run was stopped. */
  enum Trip {
    QUEUE_WAIT,
    STALLED,
    RUN_TIME
  }

  private final Duration queueWait;
  private final Duration stall;
  private final Duration runLimit;
  private long armedAt;
  private final LongSupplier nanos;
  private long queuedSince = -1;
  private long lastProgress;
  private boolean armed;
  private Trip tripped;

  /**
   * @param runLimit the longest the run may take once it started
   */
  RunWatchdog(Duration queueWait, Duration stall, Duration runLimit, LongSupplier nanos) {
    this.queueWait = queueWait;
    this.stall = stall;
    this.runLimit = runLimit;
    this.nanos = nanos;
    this.lastProgress = nanos.getAsLong();
  }

  /**
   * The run starts now (before, the attempt may wait for the model's restarted container): the
   * clocks start.
   */
  synchronized void arm() {
    armed = true;
    lastProgress = nanos.getAsLong();
    armedAt = lastProgress;
  }

  /**
   * A progress report: {@code queuePosition} non-null while the run waits in the backend's queue.
   */
  synchronized void onProgress(Integer queuePosition) {
    long now = nanos.getAsLong();
    lastProgress = now;
    if (queuePosition == null) {
      queuedSince = -1;
    } else if (queuedSince < 0) {
      queuedSince = now;
    }
  }

  /** Whether the run must be stopped now; a trip is reported once. */
  synchronized Trip check() {
    if (tripped != null || !armed) {
      return null;
    }
    long now = nanos.getAsLong();
    if (now - armedAt > runLimit.toNanos()) {
      tripped = Trip.RUN_TIME;
    } else if (queuedSince >= 0) {
      if (now - queuedSince > queueWait.toNanos()) {
        tripped = Trip.QUEUE_WAIT;
      }
    } else if (now - lastProgress > stall.toNanos()) {
      tripped = Trip.STALLED;
    }
    return tripped;
  }

  synchronized Trip tripped() {
    return tripped;
  }

  /** What the person is told. */
  String describe(Trip trip) {
    return switch (trip) {
      case QUEUE_WAIT ->
          "The generator's own queue did not reach this generation within "
              + seconds(queueWait)
              + "; it was taken out of that queue";
      case STALLED ->
          "The generator made no progress for " + seconds(stall) + "; the run was stopped";
      case RUN_TIME ->
          "The generator took longer than "
              + io.tempera.generation.GenerationFailures.describe(runLimit);
    };
  }

  private static String seconds(Duration d) {
    return d.toSeconds() + " s";
  }
}
