package io.tempera.generation;

import io.temporal.api.enums.v1.TimeoutType;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.TemporalFailure;
import io.temporal.failure.TimeoutFailure;
import java.time.Duration;
import java.util.Locale;

/** Reads why a step failed as the error a person is shown: a code and a sentence. */
public final class GenerationFailures {

  private GenerationFailures() {}

  /** What a person reads of a failure no step mapped to a sentence for them. */
  static final String UNEXPECTED = "The generation failed on an unexpected error";

  static GenerationError describe(
      TemporalFailure failure, Phase phase, GenerationPlan plan, Attempt attempt) {
    Throwable cause = failure instanceof ApplicationFailure ? failure : failure.getCause();
    if (cause instanceof ApplicationFailure app) {
      ErrorCode code = ErrorCode.fromType(app.getType());
      if (code == ErrorCode.INTERNAL && !code.name().equals(app.getType())) {
        // an exception no step mapped (its type a class name): its text, a library's or a
        // backend's, is for operators, who find it in the step's failure in the history
        return GenerationError.of(ErrorCode.INTERNAL, UNEXPECTED);
      }
      return GenerationError.of(code, app.getOriginalMessage());
    }
    if (cause instanceof TimeoutFailure timeout
        && timeout.getTimeoutType() == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      String host = attempt.lease() == null ? "" : attempt.lease().hostId() + " ";
      return GenerationError.of(
          ErrorCode.BACKEND_UNREACHABLE,
          "The GPU host " + host + "running this generation stopped answering");
    }
    if (cause instanceof TimeoutFailure) {
      return GenerationError.of(ErrorCode.TIMEOUT, timedOut(phase, plan));
    }
    return GenerationError.of(ErrorCode.INTERNAL, failure.getMessage());
  }

  /** Which limit ran out, by the phase it ran out in. */
  private static String timedOut(Phase phase, GenerationPlan plan) {
    return switch (phase) {
      case STARTING_MODEL ->
          "The generator did not start within "
              + describe(
                  Duration.ofSeconds(
                      plan.model() == null ? 0 : plan.model().startTimeoutSeconds()));
      case GENERATING ->
          "The generator took longer than " + describe(Duration.ofSeconds(plan.timeoutSeconds()));
      case COLLECTING_OUTPUTS ->
          "Collecting the outputs took longer than " + describe(plan.timeouts().output());
      default ->
          "The generation took longer than its time limit ("
              + phase.name().toLowerCase(Locale.ROOT)
              + ")";
    };
  }

  /** "1 minute", "3 minutes", "90 s". */
  public static String describe(Duration d) {
    if (d.toSeconds() == 0 || d.toSeconds() % 60 != 0) {
      return d.toSeconds() + " s";
    }
    return d.toMinutes() == 1 ? "1 minute" : d.toMinutes() + " minutes";
  }
}
