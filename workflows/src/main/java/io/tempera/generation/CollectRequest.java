package io.tempera.generation;

import java.util.List;

/** Copy a run's backend files into the project's output folder. */
public record CollectRequest(
    String generationId,
    String projectId,
    String nodeId,
    String backendType,
    List<BackendFile> files) {

  public CollectRequest {
    files = files == null ? List.of() : List.copyOf(files);
  }
}
