package io.tempera.generation;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A request resolved against the template version current when the generation started. The
 * workflow keeps this, so editing the template later never changes a running generation.
 *
 * @param payload the backend payload (for ComfyUI the API-format graph) with every parameter
 *     except file inputs already mapped in
 */
public record GenerationPlan(
    String functionId,
    String functionVersion,
    String tierRequested,
    String tierUsed,
    String backendType,
    ObjectNode payload,
    List<FileInput> fileInputs,
    int timeoutSeconds,
    List<String> warnings) {

  public GenerationPlan {
    fileInputs = fileInputs == null ? List.of() : List.copyOf(fileInputs);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }
}
