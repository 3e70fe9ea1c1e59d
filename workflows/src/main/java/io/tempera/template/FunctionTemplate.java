package io.tempera.template;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * A function as a template author wrote it: metadata, parameters, how they map into the backend
 * graph and what each quality tier changes in it. Immutable once loaded; parameters keep the order
 * the author declared them in. {@code graph} is the backend payload template: a ComfyUI graph, or
 * for a script its {@code command} and {@code workingDir}.
 */
public record FunctionTemplate(
    String id,
    String version,
    String displayName,
    String category,
    String icon,
    String description,
    String backendType,
    ObjectNode graph,
    int timeoutSeconds,
    Map<String, ParameterSpec> parameters,
    List<ParameterMapping> mappings,
    Map<QualityTier, Map<GraphTarget, Object>> qualityParameters,
    String sourceFile,
    Map<String, String> progressMessages,
    Map<QualityTier, TierConfig> tierConfigs,
    List<Variant> variants,
    io.tempera.generation.PhaseTimeouts timeouts) {

  public FunctionTemplate {
    parameters = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters));
    mappings = List.copyOf(mappings);
    qualityParameters = Map.copyOf(qualityParameters);
    progressMessages = progressMessages == null ? Map.of() : Map.copyOf(progressMessages);
    tierConfigs = tierConfigs == null ? Map.of() : Map.copyOf(tierConfigs);
    variants = variants == null ? List.of() : List.copyOf(variants);
    timeouts = timeouts == null ? io.tempera.generation.PhaseTimeouts.NONE : timeouts;
  }

  public FunctionTemplate(
      String id,
      String version,
      String displayName,
      String category,
      String icon,
      String description,
      String backendType,
      ObjectNode graph,
      int timeoutSeconds,
      Map<String, ParameterSpec> parameters,
      List<ParameterMapping> mappings,
      Map<QualityTier, Map<GraphTarget, Object>> qualityParameters,
      String sourceFile,
      Map<String, String> progressMessages,
      Map<QualityTier, TierConfig> tierConfigs,
      List<Variant> variants) {
    this(
        id,
        version,
        displayName,
        category,
        icon,
        description,
        backendType,
        graph,
        timeoutSeconds,
        parameters,
        mappings,
        qualityParameters,
        sourceFile,
        progressMessages,
        tierConfigs,
        variants,
        null);
  }

  /** The phase timeouts at this tier: the tier's own over the template's. */
  public io.tempera.generation.PhaseTimeouts timeouts(QualityTier tier) {
    TierConfig config = tierConfigs.get(tier);
    return config == null ? timeouts : timeouts.overriddenBy(config.timeouts());
  }

  /** The time limit of one backend run at this tier. */
  public int timeoutSeconds(QualityTier tier) {
    TierConfig config = tierConfigs.get(tier);
    return config != null && config.timeoutSeconds() != null
        ? config.timeoutSeconds()
        : timeoutSeconds;
  }
}
