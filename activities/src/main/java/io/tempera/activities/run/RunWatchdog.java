package io.tempera.activities.run;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Watches one backend run for the two ways it can hang without failing: waiting in the backend's
 * own queue too long, and running with no sign of progress (a wedged backend). Any progress the
 * backend reports (a step, a node starting or finishing, a queue update, a preview) counts; a run
 * is queued while its last report gave a place in the backend's queue. Watches once armed;
 * thread-safe; trips once.
 */
final class RunWatchdog {

  /** Why a run was stopped. */
  enum Trip {
    QUEUE_WAIT,
    STALLED
  }

  private final Duration queueWait;
  private final Duration stall;
  private final LongSupplier nanos;
  private long queuedSince = -1;
  private long lastProgress;
  private boolean armed;
  private Trip tripped;

  RunWatchdog(Duration queueWait, Duration stall, LongSupplier nanos) {
    this.queueWait = queueWait;
    this.stall = stall;
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
    if (queuedSince >= 0) {
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
    };
  }

  private static String seconds(Duration d) {
    return d.toSeconds() + " s";
  }
}
