package io.tempera.generation;

import io.temporal.client.WorkflowExecutionMetadata;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowStub;
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

  /** The memo key of a cancelled generation's result (Temporal keeps no details of a cancel). */
  public static final String MEMO_CANCELLED = "cancelled";

  private GenerationEnds() {}

  /**
   * How a generation ended (waiting for it to end): its result when it completed, the result its
   * failure carries when it failed, the result in its memo when it was cancelled.
   */
  public static GenerationResult of(WorkflowStub generation) {
    String id = generation.getExecution().getWorkflowId();
    try {
      return generation.getResult(GenerationResult.class);
    } catch (WorkflowFailedException failed) {
      if (failed.getCause() instanceof CanceledFailure) {
        return cancelled(generation.describe()).orElseGet(() -> of(id, failed));
      }
      return of(id, failed);
    }
  }

  /** A cancelled generation's result from its workflow's memo, if it left one. */
  public static Optional<GenerationResult> cancelled(WorkflowExecutionMetadata execution) {
    try {
      return Optional.ofNullable(
          execution.getMemo(MEMO_CANCELLED, GenerationResult.class, GenerationResult.class));
    } catch (RuntimeException unreadable) {
      return Optional.empty();
    }
  }

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
    GenerationStatus status =
        cause instanceof CanceledFailure ? GenerationStatus.CANCELLED : GenerationStatus.FAILED;
    GenerationError error =
        cause instanceof CanceledFailure
            ? GenerationError.of(ErrorCode.CANCELLED, "Cancelled: the workflow was cancelled")
            : cause instanceof TerminatedFailure
                ? GenerationError.of(
                    ErrorCode.INTERNAL, "The generation was stopped by an operator")
                : cause instanceof TimeoutFailure
                    ? GenerationError.of(
                        ErrorCode.TIMEOUT, "The generation took longer than its time limit")
                    : GenerationError.of(ErrorCode.INTERNAL, "The generation ended unexpectedly");
    return new GenerationResult(
        generationId,
        status,
        0.0,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        error,
        null,
        null,
        null,
        null,
        null,
        null);
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
