package io.tempera.backend.gradio;

/** A Gradio call that failed, by kind; the message is the server's own where it sent one. */
public class GradioException extends RuntimeException {

  public enum Kind {
    /** The server refused the inputs (422, 400, an unknown endpoint or parameter): only fixing them helps. */
    VALIDATION,
    /** The app ran the function and it failed ({@code success:false}): the server's message, if it showed one. */
    EXECUTION,
    /** The app needs a login that is missing or wrong. */
    AUTH,
    /** The queue is full (503). */
    BUSY,
    /** No connection, or it broke (the event stream included). */
    UNREACHABLE,
    /** 5xx. */
    SERVER_ERROR,
    /** No answer, or no event on the stream, in time. */
    TIMEOUT,
    /** An answer we cannot understand. */
    PROTOCOL,
    /** A file that is not on the server. */
    NOT_FOUND,
    /** The caller stopped waiting (its thread was interrupted). */
    ABORTED
  }

  private final Kind kind;
  private final Integer httpStatus;

  public GradioException(Kind kind, String message, Integer httpStatus, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.httpStatus = httpStatus;
  }

  public GradioException(Kind kind, String message) {
    this(kind, message, null, null);
  }

  public Kind kind() {
    return kind;
  }

  public Integer httpStatus() {
    return httpStatus;
  }
}
