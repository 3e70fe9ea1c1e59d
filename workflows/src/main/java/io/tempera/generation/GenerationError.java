package io.tempera.generation;

/** Why a generation failed, for a person: what happened and what to do. */
public record GenerationError(
    String code, String message, String suggestion, String action, boolean retryable) {

  public static GenerationError of(ErrorCode code, String message) {
    return new GenerationError(
        code.name(), message, code.suggestion(), code.action(), code.retryable());
  }
}
