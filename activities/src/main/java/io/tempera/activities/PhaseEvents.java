package io.tempera.activities;

import io.tempera.generation.Phase;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;

/**
 * Tells the generation's followers (over the progress bus, not history) that it entered a phase.
 */
public final class PhaseEvents {

  private final ProgressBus progress;

  public PhaseEvents(ProgressBus progress) {
    this.progress = progress;
  }

  public void entered(String generationId, Phase phase, double at, String message) {
    entered(generationId, phase, at, message, null);
  }

  /** The generation waits for a GPU, at {@code position} in its pool's line. */
  public void waitingInLine(String generationId, int position) {
    waitingInLine(generationId, position, null, null);
  }

  /**
   * The generation waits for a GPU, at {@code position} in its pool's line, granted in about {@code
   * waitSeconds} and ending in about {@code etaSeconds} (the allocator's estimates from the leases
   * it measured; null: none yet).
   */
  public void waitingInLine(
      String generationId, int position, Integer waitSeconds, Integer etaSeconds) {
    progress.publish(
        new ProgressEvent(
            generationId,
            0,
            ProgressEvent.PHASE,
            Phase.WAITING_FOR_SLOT.name(),
            0.02,
            null,
            null,
            position,
            waitSeconds == null
                ? "Waiting for a GPU (" + position + " in line)"
                : "Waiting for a GPU (" + position + " in line, about " + about(waitSeconds) + ")",
            System.currentTimeMillis(),
            etaSeconds,
            null,
            waitSeconds,
            ProgressEvent.WAITING_FOR_SLOT));
  }

  /** A wait as a person reads it: "12 s", "4 min", "2 h 5 min". */
  static String about(int seconds) {
    if (seconds < 60) {
      return seconds + " s";
    }
    long minutes = Math.round(seconds / 60.0);
    return minutes < 60 ? minutes + " min" : minutes / 60 + " h " + minutes % 60 + " min";
  }

  /** The generation's host was lost: it waits for a GPU again, on another host. */
  public void moving(String generationId, String reason) {
    entered(generationId, Phase.WAITING_FOR_SLOT, 0.02, "Moving to another GPU: " + reason, null);
  }

  /** The same with the generation's place in the line it waits in. */
  public void entered(
      String generationId, Phase phase, double at, String message, Integer queuePosition) {
    progress.publish(
        new ProgressEvent(
            generationId,
            0,
            ProgressEvent.PHASE,
            phase.name(),
            at,
            null,
            null,
            queuePosition,
            message,
            System.currentTimeMillis(),
            null,
            null));
  }
}
