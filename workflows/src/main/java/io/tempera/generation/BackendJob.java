package io.tempera.generation;

/**
 * One run of a plan on a backend. {@code runId} is chosen by the workflow (deterministically), so
 * every attempt of the run activity uses the same id and re-attaches instead of submitting twice.
 *
 * @param baseUrl where the model's own service answers (a container started on the leased host);
 *     null: the worker's configured backend endpoints
 */
public record BackendJob(
    String generationId,
    String projectId,
    String nodeId,
    String runId,
    GenerationPlan plan,
    String baseUrl) {

  /** The same run at another address (its model's container was restarted elsewhere). */
  public BackendJob at(String newBaseUrl) {
    return new BackendJob(generationId, projectId, nodeId, runId, plan, newBaseUrl);
  }
}
