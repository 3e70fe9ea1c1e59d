package io.tempera.backend.comfyui;

import io.tempera.backend.BackendException;
import io.tempera.backend.BackendFault;
import io.tempera.backend.BackendMessages;
import java.util.List;
import java.util.stream.Collectors;

/** A ComfyUI call that failed, by kind. */
public class ComfyUiException extends BackendException {

  /**
   * VALIDATION and MISSING_NODE are ComfyUI's own: the server refused the prompt (400), and fixing
   * the graph or inputs is the only cure; or it lacks a node class the graph uses, which only
   * installing that node on the server cures. The others are the {@link BackendFault}s every
   * backend shares.
   */
  public enum Kind {
    VALIDATION,
    MISSING_NODE,
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

  private final List<NodeError> nodeErrors;
  private final String missingNodeClass;

  public ComfyUiException(
      Kind kind, String message, Integer httpStatus, List<NodeError> nodeErrors, Throwable cause) {
    this(kind, message, httpStatus, nodeErrors, cause, null);
  }

  ComfyUiException(
      Kind kind,
      String message,
      Integer httpStatus,
      List<NodeError> nodeErrors,
      Throwable cause,
      String missingNodeClass) {
    super(kind, message, httpStatus, cause);
    this.nodeErrors = nodeErrors == null ? List.of() : List.copyOf(nodeErrors);
    this.missingNodeClass = missingNodeClass;
  }

  /** The node class the server does not have (MISSING_NODE only). */
  public String missingNodeClass() {
    return missingNodeClass;
  }

  public ComfyUiException(Kind kind, String message) {
    this(kind, message, null, null, null);
  }

  /** A shared fault as a ComfyUI error. */
  static ComfyUiException of(
      BackendFault fault, String message, Integer httpStatus, Throwable cause) {
    return new ComfyUiException(kindOf(Kind.class, fault), message, httpStatus, null, cause);
  }

  @Override
  public Kind kind() {
    return (Kind) super.kind();
  }

  public boolean retryable() {
    return kind() != Kind.VALIDATION && kind() != Kind.MISSING_NODE && kind() != Kind.NOT_FOUND;
  }

  public List<NodeError> nodeErrors() {
    return nodeErrors;
  }

  /**
   * A sentence for a person ({@link BackendMessages}): for validation errors, each node and input
   * by the graph's names and the kind of refusal; never the server's own words, which {@link
   * #operatorText} keeps.
   */
  public String userMessage() {
    if (kind() == Kind.VALIDATION && !nodeErrors.isEmpty()) {
      return nodeErrors.stream()
          .map(
              e -> BackendMessages.refusedInput(e.nodeId(), e.classType(), e.type(), e.inputName()))
          .distinct()
          .collect(Collectors.joining("; "));
    }
    if (kind() == Kind.VALIDATION) {
      return BackendMessages.REFUSED;
    }
    if (kind() == Kind.MISSING_NODE) {
      return BackendMessages.missingNode(missingNodeClass);
    }
    return getMessage();
  }

  /** Everything the server said, for operators only: the message and each node error whole. */
  public String operatorText() {
    if (nodeErrors.isEmpty()) {
      return getMessage();
    }
    return getMessage()
        + nodeErrors.stream()
            .map(e ->
                "\nnode "
                    + e.nodeId()
                    + " ("
                    + e.classType()
                    + ") "
                    + e.type()
                    + (e.inputName() == null ? "" : " on " + e.inputName())
                    + ": "
                    + e.message()
                    + (e.details() == null || e.details().isBlank()
                        ? ""
                        : " (" + e.details() + ")"))
            .collect(Collectors.joining());
  }
}
