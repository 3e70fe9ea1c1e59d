package io.tempera.generation;

import java.util.List;
import java.util.Map;

/**
 * What the workflow's query returns. Progress here is milestone-level (the workflow does not see
 * every backend tick); live progress travels on the progress bus.
 *
 * @param modelColdStartMillis how long starting the model's container took (0: a running one was
 *     reused; null: the generation ran on no container of its own)
 * @param values what the backend returned that is not a file (text, numbers, JSON), beside the
 *     stored {@code outputs}
 * @param parameters the request's parameters as the generation runs with them, a random seed the
 *     API drew included (sending them again reproduces the result); empty when not known
 */
public record GenerationState(
    String generationId,
    GenerationStatus status,
    Phase phase,
    double progress,
    Integer queuePosition,
    String functionId,
    String functionVersion,
    String projectId,
    String nodeId,
    String tierRequested,
    String tierUsed,
    List<String> warnings,
    List<OutputRef> outputs,
    GenerationError error,
    List<Fallback> fallbacks,
    String variant,
    Long modelColdStartMillis,
    List<OutputValue> values,
    Map<String, Object> parameters) {

  public GenerationState {
    // a copy that keeps nulls (a nullable parameter's explicit null)
    parameters =
        parameters == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters));
    values = values == null ? List.of() : List.copyOf(values);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
    fallbacks = fallbacks == null ? List.of() : List.copyOf(fallbacks);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
  }
}
