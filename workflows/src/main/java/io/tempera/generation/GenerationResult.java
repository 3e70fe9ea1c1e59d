package io.tempera.generation;

import java.util.List;
import java.util.Map;

/**
 * How a generation ended: the workflow's result when it SUCCEEDED, and the second detail of the
 * {@code ApplicationFailure} (or {@code CanceledFailure}) it ends with when it FAILED or was
 * CANCELLED, so a caller reads the same record whichever way it ended.
 *
 * @param values what the backend returned that is not a file (text, numbers, JSON), beside the
 *     stored {@code outputs}; empty in results recorded before there were any
 * @param parameters the request's parameters (a drawn seed included); empty in results recorded
 *     before they were kept, and when the generation ended before it read its request
 */
public record GenerationResult(
    String generationId,
    GenerationStatus status,
    double progress,
    String functionId,
    String functionVersion,
    String projectId,
    String nodeId,
    String tierRequested,
    String tierUsed,
    List<OutputRef> outputs,
    GenerationError error,
    List<String> warnings,
    List<Fallback> fallbacks,
    String variant,
    Long modelColdStartMillis,
    List<OutputValue> values,
    Map<String, Object> parameters) {

  public GenerationResult {
    // a copy that keeps nulls (a nullable parameter's explicit null)
    parameters =
        parameters == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters));
    values = values == null ? List.of() : List.copyOf(values);
    fallbacks = fallbacks == null ? List.of() : List.copyOf(fallbacks);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }

  /** The ended generation as a state (what the API shows of it). */
  public GenerationState asState() {
    Phase phase =
        switch (status) {
          case SUCCEEDED -> Phase.SUCCEEDED;
          case CANCELLED -> Phase.CANCELLED;
          default -> Phase.FAILED;
        };
    return new GenerationState(
        generationId,
        status,
        phase,
        progress,
        null,
        functionId,
        functionVersion,
        projectId,
        nodeId,
        tierRequested,
        tierUsed,
        warnings,
        outputs,
        error,
        fallbacks,
        variant,
        modelColdStartMillis,
        values,
        parameters);
  }
}
