package io.tempera.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.FileInput;
import io.tempera.models.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The pure translation from (template, tier, parameters) to the backend payload. What a target
 * receives, on every backend: the request's value for the parameter mapped there when the request
 * gives it (a null included, for a nullable parameter), else the tier's value (the A/B variant's
 * over the tier's), else the parameter's default; a parameter the request leaves out that has no
 * default writes nothing, so the backend's own value stays. A computed value counts as the
 * request's when the request gives a parameter it reads, else it yields to the tier's value like a
 * default. File parameters are left for the backend activity to upload, listed as {@link
 * FileInput}s. A {@code model_file} mapping writes the file of the model the tier runs on (from the
 * model registry).
 */
public final class TemplateTranslator {

  private final ObjectMapper json;

  public TemplateTranslator(ObjectMapper json) {
    this.json = json;
  }

  /**
   * The backend payload, the files it needs uploaded, and the A/B variant applied (null without
   * variants).
   */
  public record Translation(ObjectNode payload, List<FileInput> fileInputs, String variant) {}

  /**
   * The project's variant of a template: a stable hash of project and function picks a weighted
   * bucket, so a project always gets the same variant and the shares follow the weights.
   */
  public static Variant variantFor(FunctionTemplate template, String projectId) {
    if (template.variants().isEmpty()) {
      return null;
    }
    int total = template.variants().stream().mapToInt(Variant::weight).sum();
    long hash =
        Integer.toUnsignedLong(
            java.util.Arrays.hashCode(
                (projectId + "\u0000" + template.id())
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    hash = (hash * 0x9E3779B97F4A7C15L) >>> 1; // spread the bits before taking the bucket
    long bucket = hash % total;
    for (Variant variant : template.variants()) {
      bucket -= variant.weight();
      if (bucket < 0) {
        return variant;
      }
    }
    return template.variants().get(template.variants().size() - 1);
  }

  /**
   * A {@code model_file} mapping whose model has no such file: the tier names no model, or the
   * model registry changed since the template loaded.
   */
  public static final class ModelFileMissing extends RuntimeException {
    public ModelFileMissing(String message) {
      super(message, null, false, false);
    }
  }

  /** Translation for a project: applies the project's A/B variant, if the template has variants. */
  public Translation translate(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      String projectId) {
    return translate(template, tier, parameters, projectId, null);
  }

  /**
   * Translation for a project on {@code model} (the tier's model, or its fallback; null: none),
   * whose files the {@code model_file} mappings write.
   */
  public Translation translate(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      String projectId,
      ModelSpec model) {
    Variant variant = variantFor(template, projectId);
    return translate(template, tier, parameters, variant, model);
  }

  public Translation translate(
      FunctionTemplate template, QualityTier tier, Map<String, Object> parameters) {
    return translate(template, tier, parameters, (Variant) null, null);
  }

  /** The file of kind {@code kind} of {@code model}, or why there is none. */
  static String modelFile(
      FunctionTemplate template, QualityTier tier, ModelSpec model, String kind) {
    if (model == null) {
      throw new ModelFileMissing(
          template.id()
              + " writes a model's "
              + kind
              + " file into its graph, but its "
              + tier.id()
              + " tier runs on no model of the registry");
    }
    String file = model.files().get(kind);
    if (file == null) {
      throw new ModelFileMissing(
          "Model "
              + model.id()
              + " names no "
              + kind
              + " file, which "
              + template.id()
              + " needs"
              + (model.files().isEmpty() ? "" : " (its files: " + model.files().keySet() + ")"));
    }
    return file;
  }

  private Translation translate(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      Variant variant,
      ModelSpec model) {
    if ("script".equals(template.backendType())) {
      return translateScript(template, tier, parameters, variant);
    }
    if ("gradio".equals(template.backendType())) {
      return translateGradio(template, tier, parameters, variant, model);
    }
    ObjectNode graph = template.graph().deepCopy();
    Map<GraphTarget, Object> tierValues = tierValues(template, tier, variant);
    tierValues.forEach((target, value) -> write(graph, target, value));
    Values values = values(template, tier, parameters);
    List<FileInput> files = new ArrayList<>();
    for (ParameterMapping mapping : template.mappings()) {
      if (mapping.when() != null && !mapping.when().test(values.all())) {
        continue;
      }
      if (mapping.type().equals(ParameterMapping.COMPUTED)) {
        if (values.yieldsToTier(mapping, tierValues)) {
          continue;
        }
        write(graph, mapping.target(), mapping.expression().evaluate(values.all()));
        continue;
      }
      if (mapping.type().equals(ParameterMapping.MODEL_FILE)) {
        write(graph, mapping.target(), modelFile(template, tier, model, mapping.modelFile()));
        continue;
      }
      ParameterSpec spec = template.parameters().get(mapping.parameter());
      if (!values.all().containsKey(mapping.parameter())
          || values.yieldsToTier(mapping, tierValues)) {
        continue;
      }
      Object value = values.all().get(mapping.parameter());
      if (value == null) {
        write(graph, mapping.target(), null); // a nullable parameter's null, whatever the kind
        continue;
      }
      switch (mapping.type()) {
        case ParameterMapping.FILE_UPLOAD ->
            files.add(
                new FileInput(
                    mapping.parameter(),
                    value.toString(),
                    mapping.target().node(),
                    mapping.target().input()));
        case ParameterMapping.LOOKUP ->
            write(graph, mapping.target(), mapping.table().get(String.valueOf(value)));
        default ->
            write(
                graph,
                mapping.target(),
                spec.type().equals("integer") && value instanceof Number n ? n.longValue() : value);
      }
    }
    return new Translation(graph, files, variant == null ? null : variant.name());
  }

  /**
   * A script gets every parameter and its tier's values as JSON; images become file inputs. A
   * parameter the request leaves out takes the tier's value of the same name, else its default,
   * else is left out.
   */
  private Translation translateScript(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      Variant variant) {
    ObjectNode payload = template.graph().deepCopy();
    payload.put("timeoutSeconds", template.timeoutSeconds());
    ObjectNode values = payload.putObject("parameters");
    List<FileInput> files = new ArrayList<>();
    Map<String, Object> byName = new java.util.HashMap<>();
    tierValues(template, tier, variant)
        .forEach((target, value) -> byName.put(target.input(), value));
    for (ParameterSpec spec : template.parameters().values()) {
      Object value;
      if (parameters.containsKey(spec.name())) {
        value = parameters.get(spec.name());
      } else if (byName.containsKey(spec.name()) && !spec.type().equals("image")) {
        value = byName.get(spec.name());
      } else if (spec.hasDefault()) {
        value = spec.defaultValue();
      } else {
        continue;
      }
      if (value == null) {
        values.putNull(spec.name());
      } else if (spec.type().equals("image")) {
        files.add(new FileInput(spec.name(), value.toString(), null, null));
      } else {
        values.set(spec.name(), json.valueToTree(value));
      }
    }
    ObjectNode tierValues = payload.putObject("tier");
    tierValues.put("name", tier.id());
    template
        .qualityParameters()
        .getOrDefault(tier, Map.of())
        .forEach((target, value) -> tierValues.set(target.input(), json.valueToTree(value)));
    if (variant != null) {
      variant
          .qualityParameters()
          .getOrDefault(tier, Map.of())
          .forEach((target, value) -> tierValues.set(target.input(), json.valueToTree(value)));
      payload.put("variant", variant.name());
    }
    return new Translation(payload, files, variant == null ? null : variant.name());
  }

  /**
   * A Gradio call's inputs, by the endpoint's parameter names or positions: the tier's values, then
   * each mapped parameter, then every parameter without a mapping under its own name (as Gradio's
   * clients call {@code predict(prompt=…)}), where a default never replaces the tier's value and a
   * parameter left out without a default is not sent (the endpoint's default applies). Images
   * become file inputs, uploaded by the backend.
   */
  private Translation translateGradio(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      Variant variant,
      ModelSpec model) {
    ObjectNode payload = template.graph().deepCopy();
    ObjectNode inputs = payload.withObjectProperty("inputs");
    Map<GraphTarget, Object> tierValues = tierValues(template, tier, variant);
    tierValues.forEach((target, value) -> inputs.set(target.input(), json.valueToTree(value)));
    Values values = values(template, tier, parameters);
    List<FileInput> files = new ArrayList<>();
    java.util.Set<String> mapped = new java.util.HashSet<>();
    for (ParameterMapping mapping : template.mappings()) {
      if (mapping.parameter() != null) {
        mapped.add(mapping.parameter());
      }
      if (mapping.when() != null && !mapping.when().test(values.all())) {
        continue;
      }
      String target = mapping.target().input();
      if (mapping.type().equals(ParameterMapping.COMPUTED)) {
        if (!values.yieldsToTier(mapping, tierValues)) {
          inputs.set(target, json.valueToTree(mapping.expression().evaluate(values.all())));
        }
        continue;
      }
      if (mapping.type().equals(ParameterMapping.MODEL_FILE)) {
        inputs.put(target, modelFile(template, tier, model, mapping.modelFile()));
        continue;
      }
      if (!values.all().containsKey(mapping.parameter())
          || values.yieldsToTier(mapping, tierValues)) {
        continue;
      }
      Object value = values.all().get(mapping.parameter());
      if (value == null) {
        inputs.putNull(target); // a nullable parameter's null, whatever the kind
        continue;
      }
      ParameterSpec spec = template.parameters().get(mapping.parameter());
      switch (mapping.type()) {
        case ParameterMapping.FILE_UPLOAD ->
            files.add(
                new FileInput(
                    mapping.parameter(), value.toString(), TemplateParser.GRADIO_NODE, target));
        case ParameterMapping.LOOKUP ->
            inputs.set(target, json.valueToTree(mapping.table().get(String.valueOf(value))));
        default ->
            inputs.set(
                target,
                json.valueToTree(
                    spec.type().equals("integer") && value instanceof Number n
                        ? n.longValue()
                        : value));
      }
    }
    for (ParameterSpec spec : template.parameters().values()) {
      if (mapped.contains(spec.name())
          || !values.all().containsKey(spec.name())
          || (!values.explicit().contains(spec.name())
              && tierValues.containsKey(
                  new GraphTarget(TemplateParser.GRADIO_NODE, spec.name())))) {
        continue;
      }
      Object value = values.all().get(spec.name());
      if (value == null) {
        inputs.putNull(spec.name());
      } else if (spec.type().equals("image")) {
        files.add(
            new FileInput(spec.name(), value.toString(), TemplateParser.GRADIO_NODE, spec.name()));
      } else {
        inputs.set(
            spec.name(),
            json.valueToTree(
                spec.type().equals("integer") && value instanceof Number n
                    ? n.longValue()
                    : value));
      }
    }
    if (variant != null) {
      payload.put("variant", variant.name());
    }
    return new Translation(payload, files, variant == null ? null : variant.name());
  }

  /** The tier's values, the A/B variant's over them, by target. */
  private static Map<GraphTarget, Object> tierValues(
      FunctionTemplate template, QualityTier tier, Variant variant) {
    Map<GraphTarget, Object> out =
        new java.util.LinkedHashMap<>(template.qualityParameters().getOrDefault(tier, Map.of()));
    if (variant != null) {
      out.putAll(variant.qualityParameters().getOrDefault(tier, Map.of()));
    }
    return out;
  }

  /**
   * The values mappings and expressions read: what the request gives (a null included), the
   * defaults of the rest, and {@code tier}; a parameter left out without a default is absent.
   *
   * @param explicit the parameters the request gives
   */
  record Values(Map<String, Object> all, java.util.Set<String> explicit) {

    /**
     * True when the tier sets the mapping's target and the mapping's value does not come from the
     * request: a default, or a computed value that reads no parameter the request gives.
     */
    boolean yieldsToTier(ParameterMapping mapping, Map<GraphTarget, Object> tierValues) {
      if (!tierValues.containsKey(mapping.target())) {
        return false;
      }
      if (mapping.type().equals(ParameterMapping.COMPUTED)) {
        return mapping.expression().names().stream().noneMatch(explicit::contains);
      }
      return !explicit.contains(mapping.parameter());
    }
  }

  static Values values(
      FunctionTemplate template, QualityTier tier, Map<String, Object> parameters) {
    Map<String, Object> all = new java.util.HashMap<>();
    java.util.Set<String> explicit = new java.util.HashSet<>();
    for (ParameterSpec spec : template.parameters().values()) {
      if (parameters.containsKey(spec.name())) {
        all.put(spec.name(), parameters.get(spec.name()));
        explicit.add(spec.name());
      } else if (spec.hasDefault()) {
        all.put(spec.name(), spec.defaultValue());
      }
    }
    all.put("tier", tier.id());
    return new Values(all, explicit);
  }

  private void write(ObjectNode graph, GraphTarget target, Object value) {
    ObjectNode inputs = (ObjectNode) graph.get(target.node()).get("inputs");
    JsonNode node = json.valueToTree(value);
    inputs.set(target.input(), node);
  }
}
