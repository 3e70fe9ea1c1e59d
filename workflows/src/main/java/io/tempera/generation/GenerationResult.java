package io.tempera.generation;

import java.util.List;

/** How a generation ended. A failed generation completes its workflow with FAILED here. */
public record GenerationResult(
    String generationId,
    GenerationStatus status,
    String functionId,
    String functionVersion,
    String tierUsed,
    List<OutputRef> outputs,
    GenerationError error,
    List<String> warnings,
    List<Fallback> fallbacks,
    String variant) {

  public GenerationResult {
    fallbacks = fallbacks == null ? List.of() : List.copyOf(fallbacks);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }
}
