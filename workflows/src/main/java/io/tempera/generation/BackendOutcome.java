package io.tempera.generation;

import java.util.List;

/**
 * How a backend run ended when it did not fail: succeeded, or interrupted on request.
 *
 * @param submitted false when the attempt re-attached to a run an earlier attempt submitted
 * @param slotReleased the run's activity gave the job's lease back to its pool once the backend had
 *     finished (the next in line starts while the outputs are collected)
 */
public record BackendOutcome(
    String runId,
    boolean interrupted,
    List<BackendFile> files,
    boolean submitted,
    boolean slotReleased) {

  public BackendOutcome {
    files = files == null ? List.of() : List.copyOf(files);
  }

  public BackendOutcome(
      String runId, boolean interrupted, List<BackendFile> files, boolean submitted) {
    this(runId, interrupted, files, submitted, false);
  }

  /** The same outcome, its slot given back. */
  public BackendOutcome withSlotReleased() {
    return new BackendOutcome(runId, interrupted, files, submitted, true);
  }
}
