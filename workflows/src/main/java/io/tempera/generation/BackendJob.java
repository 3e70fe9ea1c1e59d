package io.tempera.generation;

/**
 * One run of a plan on a backend. {@code runId} is chosen by the workflow (deterministically), so
 * every attempt of the run activity uses the same id and re-attaches instead of submitting twice.
 *
 * @param baseUrl where the model's own service answers (a container started on the leased host);
 *     null: the worker's configured backend endpoints
 */
public record BackendJob(
    String generationId, String projectId, String nodeId, String runId, GenerationPlan plan, String baseUrl) {

  public BackendJob(String generationId, String projectId, String nodeId, String runId, GenerationPlan plan) {
    this(generationId, projectId, nodeId, runId, plan, null);
  }
}
