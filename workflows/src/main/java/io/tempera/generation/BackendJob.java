package io.tempera.generation;

/**
 * One run of a plan on a backend. {@code runId} is chosen by the workflow (deterministically), so
 * every attempt of the run activity uses the same id and re-attaches instead of submitting twice.
 */
public record BackendJob(
    String generationId, String projectId, String nodeId, String runId, GenerationPlan plan) {}
