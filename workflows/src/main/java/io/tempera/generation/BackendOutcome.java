package io.tempera.generation;

import java.util.List;

/**
 * How a backend run ended when it did not fail: succeeded, or interrupted on request.
 *
 * @param submitted false when the attempt re-attached to a run an earlier attempt submitted
 * @param slotReleased the run's activity gave the job's lease back to its pool once the backend had
 *     finished (the next in line starts while the outputs are collected)
 * @param values what the run returned that is not a file (text, numbers, JSON), in the backend's
 *     order
 * @param warnings what the backend told its user along the way (Gradio's gr.Warning and gr.Info),
 *     each a sentence for the person
 */
public record BackendOutcome(
    String runId,
    boolean interrupted,
    List<BackendFile> files,
    boolean submitted,
    boolean slotReleased,
    List<OutputValue> values,
    List<String> warnings) {

  public BackendOutcome {
    files = files == null ? List.of() : List.copyOf(files);
    values = values == null ? List.of() : List.copyOf(values);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }

  public BackendOutcome(
      String runId, boolean interrupted, List<BackendFile> files, boolean submitted) {
    this(runId, interrupted, files, submitted, false, List.of(), List.of());
  }

  /** The same outcome, its slot given back. */
  public BackendOutcome withSlotReleased() {
    return new BackendOutcome(runId, interrupted, files, submitted, true, values, warnings);
  }

  /** The same outcome with these values and warnings. */
  public BackendOutcome with(List<OutputValue> values, List<String> warnings) {
    return new BackendOutcome(runId, interrupted, files, submitted, slotReleased, values, warnings);
  }
}
