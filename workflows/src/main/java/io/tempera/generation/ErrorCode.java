package io.tempera.generation;

/**
 * The failure taxonomy shared by every backend. Each code is an {@code ApplicationFailure} type, so
 * workflow code and callers switch on a type, never on a message.
 */
public enum ErrorCode {
  INVALID_REQUEST(false, "Check the function's parameters.", "FIX_INPUT"),
  UNKNOWN_FUNCTION(false, "Pick a function from the list.", "FIX_INPUT"),
  FUNCTION_UNAVAILABLE(
      false,
      "This function needs a node or a model file the generator does not have: an operator must"
          + " install it. Until then, choose another function.",
      "NONE"),
  BACKEND_UNREACHABLE(
      true,
      "The generator could not be reached, even after waiting for it; try again in a few minutes.",
      "RETRY_LATER"),
  BACKEND_BUSY(true, "The generator stayed busy for too long; try again later.", "RETRY_LATER"),
  BACKEND_MISCONFIGURED(
      false,
      "This function is unavailable right now: the generator behind it is not set up the way the"
          + " function expects. An operator has the details; choose another function for now.",
      "NONE"),
  BACKEND_VALIDATION(false, "The generator rejected this request; check the inputs.", "FIX_INPUT"),
  MISSING_NODE(
      false,
      "This function needs a node the generator does not have: an operator must install it. Until"
          + " then, choose another function.",
      "NONE"),
  OUT_OF_GPU_MEMORY(false, "Not enough GPU memory — try Standard quality.", "REDUCE_QUALITY"),
  MODEL_UNAVAILABLE(true, "The model could not be loaded.", "RETRY_LATER"),
  CONTAINER_CRASHED(true, "The generator stopped unexpectedly; try again.", "RETRY"),
  EXECUTION_ERROR(
      false,
      "The generator failed on this request and would fail the same way again: change the inputs,"
          + " or choose another function.",
      "FIX_INPUT"),
  BACKEND_FAULT(true, "The generator hit a fault that can pass; try again.", "RETRY"),
  TIMEOUT(true, "It took longer than its time limit; try again, or try a lower quality.", "RETRY"),
  STALLED(
      true, "The generator stopped making progress; try again, or try a lower quality.", "RETRY"),
  CANCELLED(false, "The generation was cancelled.", "NONE"),
  OUTPUT_NOT_PRODUCED(
      false,
      "The generator finished without an output this function promises, and would do the same"
          + " again with these inputs: change them, or choose another function.",
      "FIX_INPUT"),
  OUTPUT_MISSING(true, "The generator finished but its output could not be saved.", "RETRY"),
  INTERNAL(true, "Something went wrong on our side.", "RETRY");

  private final boolean retryable;
  private final String suggestion;
  private final String action;

  ErrorCode(boolean retryable, String suggestion, String action) {
    this.retryable = retryable;
    this.suggestion = suggestion;
    this.action = action;
  }

  public boolean retryable() {
    return retryable;
  }

  public String suggestion() {
    return suggestion;
  }

  public String action() {
    return action;
  }

  /**
   * The failure types no activity retry can fix (the request, or the backend's verdict on it, is
   * wrong): the codes a person is told not to retry as is.
   */
  public static String[] permanentTypes() {
    return java.util.Arrays.stream(values())
        .filter(c -> !c.retryable)
        .map(Enum::name)
        .toArray(String[]::new);
  }

  /** The code for an ApplicationFailure type, INTERNAL when it is not one of ours. */
  public static ErrorCode fromType(String type) {
    if (type != null) {
      for (ErrorCode code : values()) {
        if (code.name().equals(type)) {
          return code;
        }
      }
    }
    return INTERNAL;
  }
}
