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
 * @param priority 1 (first) to 5 (last), as Temporal's task-queue priority keys: the order it waits
 *     in for a GPU slot and for a worker (null, as in a request written before priorities: 3)
 * @param fairShareWeight its project's weight in the pool's fair share (null: 1)
 * @param webhook optional: where the terminal result is POSTed once the generation ended
 */
public record GenerationRequest(
    String functionId,
    String tier,
    Map<String, Object> parameters,
    String projectId,
    String nodeId,
    String requestId,
    String functionVersion,
    Integer priority,
    Integer fairShareWeight,
    io.tempera.webhooks.Webhook webhook) {

  public GenerationRequest {
    // a copy that keeps nulls: a nullable parameter's null is a value the backend receives
    parameters =
        parameters == null
            ? Map.of()
            : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters));
  }

  /** A request without a webhook. */
  public GenerationRequest(
      String functionId,
      String tier,
      Map<String, Object> parameters,
      String projectId,
      String nodeId,
      String requestId,
      String functionVersion,
      Integer priority,
      Integer fairShareWeight) {
    this(
        functionId,
        tier,
        parameters,
        projectId,
        nodeId,
        requestId,
        functionVersion,
        priority,
        fairShareWeight,
        null);
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

  /** A request without priority or weight (the defaults) and without a webhook. */
  public GenerationRequest(
      String functionId,
      String tier,
      Map<String, Object> parameters,
      String projectId,
      String nodeId,
      String requestId,
      String functionVersion) {
    this(
        functionId,
        tier,
        parameters,
        projectId,
        nodeId,
        requestId,
        functionVersion,
        null,
        null,
        null);
  }

  /** The same request, its end POSTed to {@code hook}. */
  public GenerationRequest withWebhook(io.tempera.webhooks.Webhook hook) {
    return new GenerationRequest(
        functionId,
        tier,
        parameters,
        projectId,
        nodeId,
        requestId,
        functionVersion,
        priority,
        fairShareWeight,
        hook);
  }
}
