package io.tempera.containers;

import io.tempera.generation.ErrorCode;

/**
 * A model's container could not be started or kept running: typed by {@link ErrorCode}
 * (MODEL_UNAVAILABLE when it fails to start or become healthy, CONTAINER_CRASHED when it died,
 * BACKEND_BUSY when the host's GPU memory cannot be freed), with the last lines of its log.
 */
public class ModelHostException extends RuntimeException {

  private final ErrorCode code;
  private final String logTail;

  public ModelHostException(ErrorCode code, String message, String logTail, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.logTail = logTail == null ? "" : logTail;
  }

  public ErrorCode code() {
    return code;
  }

  /** The last lines the container logged (empty when there was none). */
  public String logTail() {
    return logTail;
  }
}
