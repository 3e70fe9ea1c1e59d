package io.tempera.generation;

import java.util.Map;

/**
 * What the canvas asks for: run function {@code functionId} at quality {@code tier} with these
 * parameters, for node {@code nodeId} of project {@code projectId}.
 *
 * @param parameters by name; a key with a null value is an explicit null (for a nullable
 *     parameter), a key left out takes the parameter's default
 * @param requestId optional client-chosen idempotency key; the workflow id is derived from it
 * @param functionVersion optional: pin this version of the function (default: the newest)
 */
public record GenerationRequest(
    String functionId,
    String tier,
    Map<String, Object> parameters,
    String projectId,
    String nodeId,
    String requestId,
    String functionVersion) {

  public GenerationRequest {
    // a copy that keeps nulls: a nullable parameter's null is a value the backend receives
    parameters =
        parameters == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters));
  }

  /** A request for the newest version of the function. */
  public GenerationRequest(
      String functionId,
      String tier,
      Map<String, Object> parameters,
      String projectId,
      String nodeId,
      String requestId) {
    this(functionId, tier, parameters, projectId, nodeId, requestId, null);
  }
}
