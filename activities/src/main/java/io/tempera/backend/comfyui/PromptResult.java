package io.tempera.backend.comfyui;

import java.util.List;

/**
 * A finished prompt as /history reports it.
 *
 * @param submitted false when {@link ComfyUiClient#run} re-attached to a prompt submitted earlier
 */
public record PromptResult(
    String promptId,
    Status status,
    List<OutputFile> outputs,
    ExecutionError error,
    boolean submitted) {

  public enum Status {
    SUCCESS,
    ERROR,
    INTERRUPTED
  }

  public PromptResult {
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
  }

  PromptResult withMoreOutputs(List<OutputFile> more) {
    List<OutputFile> all = new java.util.ArrayList<>(outputs);
    all.addAll(more);
    return new PromptResult(promptId, status, all, error, submitted);
  }

  PromptResult withSubmitted(boolean value) {
    return new PromptResult(promptId, status, outputs, error, value);
  }
}
