package io.tempera.generation;

import java.util.ArrayList;
import java.util.List;

/**
 * What a generation has come to so far, as its state shows it: the phase and milestone progress,
 * the warnings and fallbacks a person is told, the stored outputs and the values the backend
 * returned that are not files, the error it ended with, and the model's cold start. Immutable: the
 * workflow replaces it as the generation goes on.
 */
public record Outcome(
    Phase phase,
    double progress,
    List<String> warnings,
    List<Fallback> fallbacks,
    List<OutputRef> outputs,
    GenerationError error,
    Long modelColdStartMillis,
    List<OutputValue> values) {

  public Outcome {
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
    fallbacks = fallbacks == null ? List.of() : List.copyOf(fallbacks);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    values = values == null ? List.of() : List.copyOf(values);
  }

  /** A generation that has just begun. */
  public static Outcome begun() {
    return new Outcome(
        Phase.RESOLVING, 0.0, List.of(), List.of(), List.of(), null, null, List.of());
  }

  /** In {@code next}, with progress at least {@code at}. */
  public Outcome entering(Phase next, double at) {
    return new Outcome(
        next,
        Math.max(progress, at),
        warnings,
        fallbacks,
        outputs,
        error,
        modelColdStartMillis,
        values);
  }

  public Outcome warning(String warning) {
    return withWarnings(List.of(warning));
  }

  public Outcome withWarnings(List<String> more) {
    List<String> all = new ArrayList<>(warnings);
    all.addAll(more);
    return new Outcome(
        phase, progress, all, fallbacks, outputs, error, modelColdStartMillis, values);
  }

  /** A step down a fallback chain: recorded for operators, told to the person. */
  public Outcome fellBack(Fallback fallback) {
    List<Fallback> all = new ArrayList<>(fallbacks);
    all.add(fallback);
    List<String> told = new ArrayList<>(warnings);
    told.add(fallback.describe());
    return new Outcome(phase, progress, told, all, outputs, error, modelColdStartMillis, values);
  }

  public Outcome withOutputs(List<OutputRef> stored) {
    return new Outcome(
        phase, progress, warnings, fallbacks, stored, error, modelColdStartMillis, values);
  }

  /** The values (not files) the backend's run returned, in its order. */
  public Outcome withValues(List<OutputValue> returned) {
    return new Outcome(
        phase, progress, warnings, fallbacks, outputs, error, modelColdStartMillis, returned);
  }

  public Outcome withModelColdStart(long millis) {
    return new Outcome(phase, progress, warnings, fallbacks, outputs, error, millis, values);
  }

  /** Ended: SUCCEEDED without an error, FAILED or CANCELLED with one. */
  public Outcome ended(GenerationError why) {
    Phase last =
        why == null
            ? Phase.SUCCEEDED
            : ErrorCode.CANCELLED.name().equals(why.code()) ? Phase.CANCELLED : Phase.FAILED;
    return new Outcome(
        last,
        last == Phase.SUCCEEDED ? 1.0 : progress,
        warnings,
        fallbacks,
        outputs,
        why,
        modelColdStartMillis,
        values);
  }
}
