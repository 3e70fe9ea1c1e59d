package io.tempera.backend.gradio;

import io.tempera.backend.BackendException;
import io.tempera.backend.BackendFault;

/** A Gradio call that failed, by kind; the message is the server's own where it sent one. */
public class GradioException extends BackendException {

  /**
   * Gradio's own kinds come first; the rest are the {@link BackendFault}s every backend shares.
   *
   * <ul>
   *   <li>VALIDATION: the server refused the inputs (422, 400, an unknown endpoint or parameter):
   *       only fixing them helps.
   *   <li>EXECUTION: the app ran the function and it failed ({@code success:false}): the server's
   *       message, if it showed one.
   *   <li>AUTH: the app needs a login that is missing or wrong.
   *   <li>BUSY: the queue is full (503).
   * </ul>
   */
  public enum Kind {
    VALIDATION,
    EXECUTION,
    AUTH,
    BUSY,
    UNREACHABLE,
    SERVER_ERROR,
    TIMEOUT,
    PROTOCOL,
    NOT_FOUND,
    ABORTED
  }

  static {
    requireFaults(Kind.class);
  }

  public GradioException(Kind kind, String message, Integer httpStatus, Throwable cause) {
    super(kind, message, httpStatus, cause);
  }

  public GradioException(Kind kind, String message) {
    this(kind, message, null, null);
  }

  /** A shared fault as a Gradio error. */
  static GradioException of(
      BackendFault fault, String message, Integer httpStatus, Throwable cause) {
    return new GradioException(kindOf(Kind.class, fault), message, httpStatus, cause);
  }

  @Override
  public Kind kind() {
    return (Kind) super.kind();
  }
}
