package io.tempera.backend.comfyui;

import java.util.List;
import java.util.Locale;

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

  /** GPU out of memory, by the rule real ComfyUI servers need (type or message). */
  public boolean outOfMemory() {
    String type = exceptionType == null ? "" : exceptionType;
    String message = exceptionMessage == null ? "" : exceptionMessage;
    return type.endsWith("OutOfMemoryError")
        || message.toLowerCase(Locale.ROOT).contains("out of memory")
        || message.contains("Allocation on device");
  }
}
