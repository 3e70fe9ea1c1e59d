package io.tempera.backend.comfyui;

import java.util.List;
import java.util.stream.Collectors;

/** A ComfyUI call that failed, by kind. */
public class ComfyUiException extends RuntimeException {

  public enum Kind {
    /** The server refused the prompt (400): fixing the graph or inputs is the only cure. */
    VALIDATION,
    /** No connection, or it broke. */
    UNREACHABLE,
    /** 5xx, or another refusal that may pass. */
    SERVER_ERROR,
    /** No answer in time. */
    TIMEOUT,
    /** An answer we cannot understand. */
    PROTOCOL,
    /** A file or prompt that does not exist. */
    NOT_FOUND,
    /** The caller stopped waiting (its thread was interrupted). */
    ABORTED
  }

  private final Kind kind;
  private final Integer httpStatus;
  private final List<NodeError> nodeErrors;

  public ComfyUiException(Kind kind, String message, Integer httpStatus, List<NodeError> nodeErrors, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.httpStatus = httpStatus;
    this.nodeErrors = nodeErrors == null ? List.of() : List.copyOf(nodeErrors);
  }

  public ComfyUiException(Kind kind, String message) {
    this(kind, message, null, null, null);
  }

  public Kind kind() {
    return kind;
  }

  public boolean retryable() {
    return kind != Kind.VALIDATION && kind != Kind.NOT_FOUND;
  }

  public Integer httpStatus() {
    return httpStatus;
  }

  public List<NodeError> nodeErrors() {
    return nodeErrors;
  }

  /** A sentence for a person: for validation errors, each node and what is wrong with it. */
  public String userMessage() {
    if (kind == Kind.VALIDATION && !nodeErrors.isEmpty()) {
      return nodeErrors.stream()
          .map(e -> "Node " + e.nodeId() + " (" + e.classType() + "): " + e.message()
              + (e.details() == null || e.details().isBlank() ? "" : " (" + e.details() + ")"))
          .collect(Collectors.joining("; "));
    }
    return getMessage();
  }
}
