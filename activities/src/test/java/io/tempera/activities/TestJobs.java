package io.tempera.activities;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.BackendJob;
import io.tempera.generation.FileInput;
import io.tempera.generation.GenerationPlan;
import java.util.List;
import java.util.Map;

/** Backend jobs for backend tests: a plain plan (standard tier, no model, no variant). */
public final class TestJobs {

  private TestJobs() {}

  /** A plan of function "f" on {@code backendType} with this payload. */
  public static GenerationPlan plan(
      String backendType, ObjectNode payload, List<FileInput> files, int timeoutSeconds) {
    return new GenerationPlan(
        "f",
        "1",
        "standard",
        "standard",
        backendType,
        payload,
        files,
        timeoutSeconds,
        List.of(),
        Map.of(),
        null,
        null,
        null,
        0);
  }

  /** Run {@code runId} of generation {@code generationId} (project "p", node "n"), on no lease. */
  public static BackendJob job(String generationId, String runId, GenerationPlan plan) {
    return new BackendJob(generationId, "p", "n", runId, plan, null);
  }
}
