package io.tempera.backend;

import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;

/** The activity failures of the faults every backend shares, worded the same for each of them. */
public final class BackendFailures {

  private BackendFailures() {}

  /**
   * The failure of a shared fault.
   *
   * @param where the server, for a person: "ComfyUI (http://…)", "Gradio (http://…)"
   */
  public static ApplicationFailure of(BackendFault fault, String where, BackendException e) {
    return switch (fault) {
      case UNREACHABLE ->
          ApplicationFailure.newFailure(
              where + " is unreachable: " + e.getMessage(), ErrorCode.BACKEND_UNREACHABLE.name());
      case SERVER_ERROR ->
          ApplicationFailure.newFailure(
              where + " answered with an error: " + e.getMessage(),
              ErrorCode.BACKEND_UNREACHABLE.name());
      case TIMEOUT ->
          ApplicationFailure.newFailure(
              where + " did not answer in time: " + e.getMessage(), ErrorCode.TIMEOUT.name());
      case PROTOCOL ->
          ApplicationFailure.newFailure(
              where + " sent a reply we do not understand: " + e.getMessage(),
              ErrorCode.INTERNAL.name());
      case NOT_FOUND ->
          ApplicationFailure.newFailure(
              "An output file is missing on " + where + ": " + e.getMessage(),
              ErrorCode.OUTPUT_MISSING.name());
      case ABORTED ->
          ApplicationFailure.newFailure(
              "The run was stopped while waiting for " + where, ErrorCode.INTERNAL.name());
    };
  }
}
