package io.tempera.generation;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.models.ModelSpec;
import java.util.List;
import java.util.Map;

/**
 * A request resolved against the template version current when the generation started. The workflow
 * keeps this, so editing the template later never changes a running generation.
 *
 * @param payload the backend payload (for ComfyUI the API-format graph) with every parameter except
 *     file inputs already mapped in
 * @param progressMessages the template's words for each phase, by phase name
 * @param variant the template's A/B variant this generation got (null without variants)
 * @param model the model registry entry this tier runs on (null: the worker's configured backend)
 * @param timeouts the template's and tier's phase timeouts
 * @param vramMb the GPU memory a slot for this plan must offer: the model's, else the tier's (0:
 *     the pool's default)
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
    List<String> warnings,
    Map<String, String> progressMessages,
    String variant,
    ModelSpec model,
    PhaseTimeouts timeouts,
    int vramMb) {

  public GenerationPlan {
    progressMessages = progressMessages == null ? Map.of() : Map.copyOf(progressMessages);
    fileInputs = fileInputs == null ? List.of() : List.copyOf(fileInputs);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
    timeouts = timeouts == null ? PhaseTimeouts.NONE : timeouts;
  }

  /** The id of the model this plan runs on (null: the worker's configured backend). */
  public String modelId() {
    return model == null ? null : model.id();
  }

  /** True when this plan's model runs in a container of its own on the leased host. */
  public boolean needsModelContainer() {
    return model != null && model.containerised();
  }
}
