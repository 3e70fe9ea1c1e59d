package io.tempera.backend.comfyui;

import java.util.List;

/** ComfyUI's execution_error: which node failed, with the exception's type and message. */
public record ExecutionError(
    String nodeId,
    String nodeType,
    String exceptionType,
    String exceptionMessage,
    List<String> traceback) {

  public ExecutionError {
    traceback = traceback == null ? List.of() : List.copyOf(traceback);
  }

  /**
   * A fault of the machine or the server rather than of the request, which running the same prompt
   * again can cure: a CUDA or cuDNN error other than out of memory, a lost connection or a timeout
   * inside a node, a full disk. Everything else a node raises (a ValueError on an input, a shape
   * mismatch, a missing file) fails the same way every time.
   */
  public boolean transientFault() {
    if (outOfMemory()) {
      return false;
    }
    String type = exceptionType == null ? "" : exceptionType;
    String message = exceptionMessage == null ? "" : exceptionMessage;
    String simpleType = type.substring(type.lastIndexOf('.') + 1);
    return TRANSIENT_TYPES.contains(simpleType)
        || message.startsWith("CUDA error")
        || message.contains("CUDNN_STATUS_")
        || message.contains("cuDNN error")
        || message.contains("NCCL error")
        || message.contains("No space left on device");
  }

  private static final java.util.Set<String> TRANSIENT_TYPES =
      java.util.Set.of(
          "ConnectionError",
          "ConnectionResetError",
          "ConnectionRefusedError",
          "ConnectionAbortedError",
          "BrokenPipeError",
          "TimeoutError",
          "AcceleratorError");

  /** GPU out of memory, by the rule real ComfyUI servers need (type or message). */
  public boolean outOfMemory() {
    return io.tempera.backend.BackendMessages.outOfMemory(exceptionType, exceptionMessage);
  }

  /**
   * Everything the server said, for operators only (the failure's details, the log): node, type,
   * message and traceback, nothing cut.
   */
  public String operatorText() {
    StringBuilder text =
        new StringBuilder("node ")
            .append(nodeId)
            .append(" (")
            .append(nodeType)
            .append("): ")
            .append(exceptionType)
            .append(": ")
            .append(exceptionMessage);
    if (!traceback.isEmpty()) {
      text.append("\nTraceback (most recent call last):\n").append(String.join("", traceback));
    }
    return text.toString();
  }
}
