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
    entered(
        generationId,
        Phase.WAITING_FOR_SLOT,
        0.02,
        "Waiting for a GPU (" + position + " in line)",
        position);
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
