package io.tempera.generation;

import java.util.Map;

/**
 * What the canvas asks for: run function {@code functionId} at quality {@code tier} with these
 * parameters, for node {@code nodeId} of project {@code projectId}.
 *
 * @param requestId optional client-chosen idempotency key; the workflow id is derived from it
 */
public record GenerationRequest(
    String functionId,
    String tier,
    Map<String, Object> parameters,
    String projectId,
    String nodeId,
    String requestId) {

  public GenerationRequest {
    parameters = parameters == null ? Map.of() : Map.copyOf(parameters);
  }
}
