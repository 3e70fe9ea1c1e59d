package io.tempera.generation;

/**
 * One run of a plan on a backend. {@code runId} is chosen by the workflow (deterministically), so
 * every attempt of the run activity uses the same id and re-attaches instead of submitting twice.
 *
 * @param baseUrl where the model's own service answers (a container started on the leased host);
 *     null: the worker's configured backend endpoints
 * @param lease the slot the run holds: given back by the run's activity as soon as the backend has
 *     finished with it (null: the workflow gives it back)
 */
public record BackendJob(
    String generationId,
    String projectId,
    String nodeId,
    String runId,
    GenerationPlan plan,
    String baseUrl,
    io.tempera.slots.Lease lease) {

  /** A run holding no lease (a backend's own tests). */
  public BackendJob(
      String generationId,
      String projectId,
      String nodeId,
      String runId,
      GenerationPlan plan,
      String baseUrl) {
    this(generationId, projectId, nodeId, runId, plan, baseUrl, null);
  }

  /** The same run at another address (its model's container was restarted elsewhere). */
  public BackendJob at(String newBaseUrl) {
    return new BackendJob(generationId, projectId, nodeId, runId, plan, newBaseUrl, lease);
  }
}
