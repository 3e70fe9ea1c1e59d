package io.tempera.generation;

import java.util.List;

/**
 * How a backend run ended when it did not fail: succeeded, or interrupted on request.
 *
 * @param submitted false when the attempt re-attached to a run an earlier attempt submitted
 */
public record BackendOutcome(
    String runId, boolean interrupted, List<BackendFile> files, boolean submitted) {

  public BackendOutcome {
    files = files == null ? List.of() : List.copyOf(files);
  }
}
