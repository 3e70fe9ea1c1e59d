package io.tempera.backend;

import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;

/**
 * The activity failures of the faults every backend shares, worded the same for each of them: the
 * person reads where and what kind of fault ({@link BackendMessages#fault}); what went wrong in
 * detail (an HTTP error body, a connection's reason) is for operators, in the failure's details and
 * the log.
 */
public final class BackendFailures {

  private BackendFailures() {}

  /**
   * The failure of a shared fault.
   *
   * @param where the server, for a person: "ComfyUI (http://…)", "Gradio (http://…)"
   */
  public static ApplicationFailure of(BackendFault fault, String where, BackendException e) {
    String message = BackendMessages.fault(fault, where);
    return switch (fault) {
      case UNREACHABLE, SERVER_ERROR ->
          BackendMessages.failure(
              message, ErrorCode.BACKEND_UNREACHABLE, false, where, e.getMessage());
      case TIMEOUT ->
          BackendMessages.failure(message, ErrorCode.TIMEOUT, false, where, e.getMessage());
      case PROTOCOL ->
          BackendMessages.failure(message, ErrorCode.INTERNAL, false, where, e.getMessage());
      case NOT_FOUND ->
          BackendMessages.failure(message, ErrorCode.OUTPUT_MISSING, false, where, e.getMessage());
      case ABORTED -> ApplicationFailure.newFailure(message, ErrorCode.INTERNAL.name());
    };
  }
}
