package io.tempera.generation;

import io.temporal.client.WorkflowFailedException;
import io.temporal.common.converter.Values;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TerminatedFailure;
import io.temporal.failure.TimeoutFailure;
import java.util.Optional;

/**
 * Reads how a generation ended from outside its workflow: a Completed workflow's result, or the
 * {@link GenerationResult} a Failed or Canceled one carries as the second detail of its failure.
 */
public final class GenerationEnds {

  private GenerationEnds() {}

  /**
   * The result a failed or cancelled generation carries; for one that ended without telling
   * (terminated by an operator, out of its run time), a FAILED result saying so.
   */
  public static GenerationResult of(String generationId, WorkflowFailedException failure) {
    Throwable cause = failure.getCause();
    Values details = null;
    if (cause instanceof ApplicationFailure app) {
      details = app.getDetails();
    } else if (cause instanceof CanceledFailure cancelled) {
      details = cancelled.getDetails();
    }
    Optional<GenerationResult> carried = resultIn(details);
    if (carried.isPresent()) {
      return carried.get();
    }
    GenerationStatus status = cause instanceof CanceledFailure ? GenerationStatus.CANCELLED : GenerationStatus.FAILED;
    GenerationError error =
        cause instanceof CanceledFailure
            ? GenerationError.of(ErrorCode.CANCELLED, "Cancelled: the workflow was cancelled")
            : cause instanceof TerminatedFailure
                ? GenerationError.of(ErrorCode.INTERNAL, "The generation was stopped by an operator")
                : cause instanceof TimeoutFailure
                    ? GenerationError.of(ErrorCode.TIMEOUT, "The generation took longer than its time limit")
                    : GenerationError.of(ErrorCode.INTERNAL, "The generation ended unexpectedly");
    return new GenerationResult(
        generationId, status, 0.0, null, null, null, null, null, null, null, error, null, null, null, null);
  }

  private static Optional<GenerationResult> resultIn(Values details) {
    if (details == null || details.getSize() < 2) {
      return Optional.empty();
    }
    try {
      return Optional.ofNullable(details.get(1, GenerationResult.class));
    } catch (RuntimeException notOurs) {
      return Optional.empty();
    }
  }
}
