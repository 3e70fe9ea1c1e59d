package io.tempera.generation;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A request resolved against the template version current when the generation started. The
 * workflow keeps this, so editing the template later never changes a running generation.
 *
 * @param payload the backend payload (for ComfyUI the API-format graph) with every parameter
 *     except file inputs already mapped in
 * @param progressMessages the template's words for each phase, by phase name
 * @param variant the template's A/B variant this generation got (null without variants)
 * @param model the model registry entry this tier runs on (null: the worker's configured backend)
 * @param timeouts the template's and tier's phase timeouts (null in plans made before they existed:
 *     the defaults)
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
    java.util.Map<String, String> progressMessages,
    String variant,
    io.tempera.models.ModelSpec model,
    PhaseTimeouts timeouts) {

  public GenerationPlan {
    progressMessages = progressMessages == null ? java.util.Map.of() : java.util.Map.copyOf(progressMessages);
    fileInputs = fileInputs == null ? List.of() : List.copyOf(fileInputs);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }

  public GenerationPlan(
      String functionId, String functionVersion, String tierRequested, String tierUsed, String backendType,
      ObjectNode payload, List<FileInput> fileInputs, int timeoutSeconds, List<String> warnings,
      java.util.Map<String, String> progressMessages, String variant, io.tempera.models.ModelSpec model) {
    this(functionId, functionVersion, tierRequested, tierUsed, backendType, payload, fileInputs, timeoutSeconds, warnings,
        progressMessages, variant, model, null);
  }

  /** The phase timeouts, defaults where neither template nor tier sets one. */
  public PhaseTimeouts phaseTimeouts() {
    return timeouts == null ? PhaseTimeouts.NONE : timeouts;
  }

  public GenerationPlan(
      String functionId, String functionVersion, String tierRequested, String tierUsed, String backendType,
      ObjectNode payload, List<FileInput> fileInputs, int timeoutSeconds, List<String> warnings,
      java.util.Map<String, String> progressMessages) {
    this(functionId, functionVersion, tierRequested, tierUsed, backendType, payload, fileInputs, timeoutSeconds, warnings,
        progressMessages, null, null);
  }

  public GenerationPlan(
      String functionId, String functionVersion, String tierRequested, String tierUsed, String backendType,
      ObjectNode payload, List<FileInput> fileInputs, int timeoutSeconds, List<String> warnings,
      java.util.Map<String, String> progressMessages, String variant) {
    this(functionId, functionVersion, tierRequested, tierUsed, backendType, payload, fileInputs, timeoutSeconds, warnings,
        progressMessages, variant, null);
  }
}
