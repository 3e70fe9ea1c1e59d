package io.tempera.template;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads one template file and its backend graph, checking everything a template author can get
 * wrong. Never throws for bad content: it returns the problems, each with file, JSON path and
 * reason.
 */
public final class TemplateParser {

  private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
  static final Set<String> TOP_LEVEL =
      Set.of(
          "id",
          "version",
          "display_name",
          "category",
          "icon",
          "description",
          "backend",
          "timeout_seconds",
          "parameters",
          "parameter_mapping",
          "quality_parameters",
          "progress_messages",
          "tiers",
          "variants",
          "timeouts");
  static final Set<String> PARAMETER_KEYS =
      Set.of(
          "type", "default", "min", "max", "enum", "required", "nullable", "random", "description");
  private static final Set<String> SUPPORTED_BACKENDS = Set.of("comfyui", "gradio", "script");

  private final ObjectMapper json;

  /** Script tiers hold named values (passed to the script as {@code tier}), not graph targets. */
  public static final String SCRIPT_TIER_NODE = "$tier";

  /** Gradio targets are the endpoint's parameter names or positions, not graph inputs. */
  public static final String GRADIO_NODE = "$gradio";

  private static final Pattern GRADIO_TARGET = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*|[0-9]{1,3}");

  public TemplateParser(ObjectMapper json) {
    this.json = json;
  }

  /** The outcome of parsing one file: a template, or the problems that kept it out. */
  public record Parsed(FunctionTemplate template, List<TemplateProblem> problems) {
    public boolean ok() {
      return template != null && problems.isEmpty();
    }
  }

  public Parsed parse(Path file) {
    String name = file.toString();
    Problems problems = new Problems(name);
    JsonNode root;
    try {
      root = json.readTree(Files.readString(file));
    } catch (JsonProcessingException e) {
      problems.add("$", "not valid JSON: " + e.getOriginalMessage());
      return problems.result();
    } catch (IOException e) {
      problems.add("$", "cannot be read: " + e.getMessage());
      return problems.result();
    }
    if (root == null || !root.isObject()) {
      problems.add("$", "must be a JSON object");
      return problems.result();
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!TOP_LEVEL.contains(key) && !key.startsWith("$") && !key.startsWith("_")) {
        problems.add(
            "$." + key,
            "unknown key (allowed: "
                + String.join(", ", TOP_LEVEL.stream().sorted().toList())
                + ")");
      }
    }
    String id = text(root, "id", problems, true);
    if (id != null && !ID.matcher(id).matches()) {
      problems.add(
          "$.id", "must be lowercase letters, digits, '-' or '_' (at most 64), got '" + id + "'");
    }
    String version = text(root, "version", problems, true);
    String displayName = text(root, "display_name", problems, true);
    String category = text(root, "category", problems, false);
    String icon = text(root, "icon", problems, false);
    String description = text(root, "description", problems, false);
    int timeout = 300;
    JsonNode timeoutNode = root.get("timeout_seconds");
    if (timeoutNode != null) {
      if (!timeoutNode.canConvertToInt()
          || !timeoutNode.isIntegralNumber()
          || timeoutNode.asInt() < 1
          || timeoutNode.asInt() > 86_400) {
        problems.add("$.timeout_seconds", "must be a whole number of seconds from 1 to 86400");
      } else {
        timeout = timeoutNode.asInt();
      }
    }

    String backendType = null;
    ObjectNode graph = null;
    JsonNode backend = root.get("backend");
    if (backend == null || !backend.isObject()) {
      problems.add("$.backend", "required: an object {type, graph}");
    } else {
      backendType = backend.path("type").isTextual() ? backend.get("type").asText() : null;
      if (backendType == null) {
        problems.add("$.backend.type", "required: one of " + SUPPORTED_BACKENDS);
      } else if (!SUPPORTED_BACKENDS.contains(backendType)) {
        problems.add(
            "$.backend.type",
            "backend '"
                + backendType
                + "' is not supported by this version (supported: "
                + SUPPORTED_BACKENDS
                + ")");
      }
      graph =
          "script".equals(backendType)
              ? readScript(file, backend.get("command"), problems)
              : "gradio".equals(backendType)
                  ? readGradio(backend, problems)
                  : readGraph(file, backend.get("graph"), problems);
    }
    boolean script = "script".equals(backendType);
    boolean gradio = "gradio".equals(backendType);
    if (script && root.has("parameter_mapping")) {
      problems.add(
          "$.parameter_mapping",
          "script templates take no parameter_mapping: the script receives all parameters as JSON");
    }

    Map<String, ParameterSpec> parameters = readParameters(root.get("parameters"), problems);
    List<ParameterMapping> mappings =
        readMappings(root.get("parameter_mapping"), parameters, graph, gradio, problems);
    Map<QualityTier, Map<GraphTarget, Object>> tiers =
        readTiers(root.get("quality_parameters"), graph, script, gradio, problems);

    Map<String, String> messages = readMessages(root.get("progress_messages"), problems);
    io.tempera.generation.PhaseTimeouts timeouts =
        readTimeouts(root.get("timeouts"), "$.timeouts", problems);
    Map<QualityTier, TierConfig> tierConfigs = readTierConfigs(root.get("tiers"), problems);
    List<Variant> variants = readVariants(root.get("variants"), graph, script, gradio, problems);
    if (!problems.list.isEmpty()) {
      return problems.result();
    }
    return new Parsed(
        new FunctionTemplate(
            id,
            version,
            displayName,
            category == null ? "general" : category,
            icon,
            description,
            backendType,
            graph,
            timeout,
            parameters,
            mappings,
            tiers,
            name,
            messages,
            tierConfigs,
            variants,
            timeouts),
        List.of());
  }

  private ObjectNode readGraph(Path templateFile, JsonNode ref, Problems problems) {
    if (ref == null || !ref.isTextual() || ref.asText().isBlank()) {
      problems.add("$.backend.graph", "required: the graph file's path, relative to the template");
      return null;
    }
    String relative = ref.asText();
    Path dir = templateFile.toAbsolutePath().normalize().getParent();
    Path graphFile = dir.resolve(relative).normalize();
    if (relative.startsWith("/") || !graphFile.startsWith(dir)) {
      problems.add("$.backend.graph", "must stay inside the template's folder: '" + relative + "'");
      return null;
    }
    JsonNode graph;
    try {
      graph = json.readTree(Files.readString(graphFile));
    } catch (JsonProcessingException e) {
      problems.add(
          "$.backend.graph",
          "graph file '" + relative + "' is not valid JSON: " + e.getOriginalMessage());
      return null;
    } catch (IOException e) {
      problems.add("$.backend.graph", "graph file '" + relative + "' cannot be read");
      return null;
    }
    if (graph == null || !graph.isObject() || graph.isEmpty()) {
      problems.add(
          "$.backend.graph",
          "graph file '"
              + relative
              + "' must be a non-empty API-format graph {node_id: {class_type, inputs}}");
      return null;
    }
    boolean ok = true;
    for (Iterator<Map.Entry<String, JsonNode>> it = graph.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> node = it.next();
      JsonNode value = node.getValue();
      if (!value.isObject()
          || !value.path("class_type").isTextual()
          || !value.path("inputs").isObject()) {
        problems.add(
            "$.backend.graph",
            "graph node '"
                + node.getKey()
                + "' in '"
                + relative
                + "' needs a class_type string and an inputs object");
        ok = false;
      }
    }
    return ok ? (ObjectNode) graph : null;
  }

  private Map<String, ParameterSpec> readParameters(JsonNode node, Problems problems) {
    Map<String, ParameterSpec> out = new LinkedHashMap<>();
    if (node == null) {
      return out;
    }
    if (!node.isObject()) {
      problems.add("$.parameters", "must be an object {name: {type, …}}");
      return out;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String name = entry.getKey();
      String path = "$.parameters." + name;
      JsonNode spec = entry.getValue();
      if (!spec.isObject()) {
        problems.add(
            path,
            "must be an object {type, default, min, max, enum, required, nullable, random,"
                + " description}");
        continue;
      }
      for (Iterator<String> keys = spec.fieldNames(); keys.hasNext(); ) {
        String key = keys.next();
        if (!PARAMETER_KEYS.contains(key)) {
          problems.add(
              path + "." + key,
              "unknown key (allowed: "
                  + String.join(", ", PARAMETER_KEYS.stream().sorted().toList())
                  + ")");
        }
      }
      String type = spec.path("type").asText(null);
      if (type == null || !ParameterSpec.TYPES.contains(type)) {
        problems.add(path + ".type", "must be one of " + ParameterSpec.TYPES);
        continue;
      }
      Double min = number(spec, "min", path, problems);
      Double max = number(spec, "max", path, problems);
      if (min != null && max != null && min > max) {
        problems.add(path, "min " + min + " is greater than max " + max);
      }
      if ((min != null || max != null) && !type.equals("integer") && !type.equals("number")) {
        problems.add(path, "min and max apply to integer and number parameters only");
      }
      List<Object> enumValues = new ArrayList<>();
      JsonNode enumNode = spec.get("enum");
      if (enumNode != null) {
        if (!enumNode.isArray() || enumNode.isEmpty()) {
          problems.add(path + ".enum", "must be a non-empty list");
        } else {
          for (JsonNode value : enumNode) {
            Object converted = json.convertValue(value, Object.class);
            if (converted == null || ParameterValidator.typeProblem(type, converted) != null) {
              problems.add(path + ".enum", "value " + value + " is not a " + type);
            } else {
              enumValues.add(converted); // a null one would fail the spec's List.copyOf
            }
          }
        }
      }
      boolean required = spec.path("required").asBoolean(false);
      boolean nullable = false;
      JsonNode nullableNode = spec.get("nullable");
      if (nullableNode != null) {
        if (!nullableNode.isBoolean()) {
          problems.add(path + ".nullable", "must be true or false");
        } else {
          nullable = nullableNode.booleanValue();
        }
      }
      boolean random = false;
      JsonNode randomNode = spec.get("random");
      if (randomNode != null) {
        if (!randomNode.isBoolean()) {
          problems.add(path + ".random", "must be true or false");
        } else if (randomNode.booleanValue()) {
          random = true;
          if (!type.equals("integer")) {
            problems.add(path + ".random", "only an integer parameter (a seed) can be random");
            random = false;
          } else if (spec.has("default")) {
            problems.add(
                path + ".random",
                "a random parameter has no default: a request that leaves it out gets a new"
                    + " random value; remove \"default\"");
            random = false;
          } else if (!enumValues.isEmpty()) {
            problems.add(path + ".random", "a random parameter cannot also be an enum");
            random = false;
          } else if ((min != null && min > ParameterSpec.RANDOM_MAX)
              || (max != null && max < 0)
              || (min != null && max != null && Math.ceil(min) > Math.floor(max))) {
            problems.add(
                path + ".random",
                "min and max leave no integer between 0 and "
                    + ParameterSpec.RANDOM_MAX
                    + " to draw");
            random = false;
          }
        }
      }
      Object defaultValue = null;
      boolean hasDefault = spec.has("default");
      if (hasDefault && spec.get("default").isNull() && !nullable) {
        problems.add(
            path + ".default",
            "null is a default only for a parameter with \"nullable\": true; leave \"default\""
                + " out when there is none (the backend's own default then applies)");
        hasDefault = false;
      }
      if (spec.has("default") && !spec.get("default").isNull()) {
        defaultValue = json.convertValue(spec.get("default"), Object.class);
        ParameterSpec probe =
            new ParameterSpec(name, type, null, min, max, enumValues, false, null);
        String problem = ParameterValidator.valueProblem(probe, defaultValue);
        if (problem != null) {
          problems.add(path + ".default", problem);
        }
      }
      out.put(
          name,
          new ParameterSpec(
              name,
              type,
              defaultValue,
              min,
              max,
              enumValues,
              required,
              spec.path("description").asText(null),
              nullable,
              hasDefault,
              random));
    }
    return out;
  }

  private List<ParameterMapping> readMappings(
      JsonNode node,
      Map<String, ParameterSpec> parameters,
      ObjectNode graph,
      boolean gradio,
      Problems problems) {
    List<ParameterMapping> out = new ArrayList<>();
    if (node == null) {
      return out;
    }
    if (!node.isArray()) {
      problems.add("$.parameter_mapping", "must be a list of {parameter, type, target}");
      return out;
    }
    for (int i = 0; i < node.size(); i++) {
      JsonNode mapping = node.get(i);
      String path = "$.parameter_mapping[" + i + "]";
      if (!mapping.isObject()) {
        problems.add(path, "must be an object {parameter, type, target}");
        continue;
      }
      String type = mapping.path("type").asText(ParameterMapping.DIRECT);
      if (!List.of(
              ParameterMapping.DIRECT,
              ParameterMapping.FILE_UPLOAD,
              ParameterMapping.LOOKUP,
              ParameterMapping.COMPUTED,
              ParameterMapping.MODEL_FILE)
          .contains(type)) {
        problems.add(
            path + ".type",
            "must be direct, file_upload, lookup, computed or model_file, got '" + type + "'");
        continue;
      }
      boolean computed = type.equals(ParameterMapping.COMPUTED);
      boolean modelFile = type.equals(ParameterMapping.MODEL_FILE);
      String parameter = mapping.path("parameter").asText(null);
      ParameterSpec spec = parameter == null ? null : parameters.get(parameter);
      String fileKind = null;
      if (modelFile) {
        if (mapping.has("parameter")) {
          problems.add(
              path + ".parameter",
              "a model_file mapping writes the tier's model's file, not a parameter: leave it out");
          continue;
        }
        fileKind = mapping.path("file").asText(null);
        if (fileKind == null
            || !io.tempera.models.ModelParser.FILE_KIND.matcher(fileKind).matches()) {
          problems.add(
              path + ".file",
              "required for a model_file mapping: the kind of file, as the model registry's"
                  + " files name it (e.g. checkpoints, upscale_models)");
          continue;
        }
      } else if (mapping.has("file")) {
        problems.add(path + ".file", "only a model_file mapping names a file");
        continue;
      }
      if (!computed && !modelFile && spec == null) {
        problems.add(path + ".parameter", "names no declared parameter: '" + parameter + "'");
        continue;
      }
      if (!computed
          && !modelFile
          && type.equals(ParameterMapping.FILE_UPLOAD) != spec.type().equals("image")) {
        problems.add(
            path + ".type",
            "file_upload is for image parameters and image parameters need file_upload");
        continue;
      }
      GraphTarget target =
          gradio
              ? gradioTarget(mapping.path("target").asText(null))
              : GraphTarget.parse(mapping.path("target").asText(null));
      if (target == null) {
        problems.add(
            path + ".target",
            gradio
                ? "must be a parameter name of the Gradio endpoint (as its /info lists it) or a position 0, 1, …"
                : "must look like '<node id>.inputs.<input name>'");
        continue;
      }
      if (!gradio && !targetExists(graph, target, path + ".target", problems)) {
        continue;
      }
      Expression when =
          expression(mapping.get("when"), path + ".when", parameters, problems, false);
      Expression expression =
          expression(
              mapping.get("expression"), path + ".expression", parameters, problems, computed);
      if (computed && expression == null) {
        continue;
      }
      Map<String, Object> table = null;
      if (type.equals(ParameterMapping.LOOKUP)) {
        table = lookupTable(mapping.get("table"), spec, path + ".table", problems);
        if (table == null) {
          continue;
        }
      }
      if (mapping.has("when") && when == null) {
        continue;
      }
      out.add(new ParameterMapping(parameter, type, target, table, expression, when, fileKind));
    }
    return out;
  }

  /** An expression over the parameters and {@code tier}: parsed, its names checked. */
  private static Expression expression(
      JsonNode node,
      String path,
      Map<String, ParameterSpec> parameters,
      Problems problems,
      boolean required) {
    if (node == null || node.isNull()) {
      if (required) {
        problems.add(path, "required: an expression such as 'size * 2'");
      }
      return null;
    }
    if (!node.isTextual() || node.asText().isBlank()) {
      problems.add(path, "must be an expression string");
      return null;
    }
    try {
      Expression expression = Expression.parse(node.asText());
      for (String name : expression.names()) {
        if (!parameters.containsKey(name) && !name.equals("tier")) {
          problems.add(path, "names '" + name + "', which is neither a parameter nor 'tier'");
          return null;
        }
      }
      return expression;
    } catch (Expression.ExpressionException e) {
      problems.add(path, e.getMessage());
      return null;
    }
  }

  /** A lookup table that covers every value the parameter's enum allows. */
  private Map<String, Object> lookupTable(
      JsonNode node, ParameterSpec spec, String path, Problems problems) {
    if (node == null || !node.isObject() || node.isEmpty()) {
      problems.add(path, "required for a lookup: an object {value: replacement}");
      return null;
    }
    if (spec.enumValues().isEmpty()) {
      problems.add(path, "a lookup needs its parameter '" + spec.name() + "' to declare an enum");
      return null;
    }
    Map<String, Object> table = new LinkedHashMap<>();
    node.fields()
        .forEachRemaining(
            e -> table.put(e.getKey(), json.convertValue(e.getValue(), Object.class)));
    List<String> missing =
        spec.enumValues().stream().map(String::valueOf).filter(v -> !table.containsKey(v)).toList();
    if (!missing.isEmpty()) {
      problems.add(path, "does not cover the enum values " + missing);
      return null;
    }
    return table;
  }

  static final Set<String> TIER_KEYS =
      Set.of(
          "steps",
          "resolution",
          "sampler",
          "vram_mb",
          "optimizations",
          "max_concurrent",
          "timeout_seconds",
          "model",
          "timeouts");

  /** Per-tier pipeline configuration: {"draft": {"steps": 8, "vram_mb": 4000, …}, …}. */
  private Map<QualityTier, TierConfig> readTierConfigs(JsonNode node, Problems problems) {
    Map<QualityTier, TierConfig> out = new EnumMap<>(QualityTier.class);
    if (node == null) {
      return out;
    }
    if (!node.isObject()) {
      problems.add(
          "$.tiers",
          "must be an object {tier: {steps, resolution, sampler, vram_mb, optimizations, max_concurrent, timeout_seconds, model, timeouts}}");
      return out;
    }
    node.fields()
        .forEachRemaining(entry -> {
          String path = "$.tiers." + entry.getKey();
          QualityTier tier = QualityTier.fromId(entry.getKey());
          JsonNode c = entry.getValue();
          if (tier == null) {
            problems.add(path, "unknown tier (tiers: draft, standard, high, ultra)");
            return;
          }
          if (!c.isObject()) {
            problems.add(path, "must be an object");
            return;
          }
          c.fieldNames()
              .forEachRemaining(key -> {
                if (!TIER_KEYS.contains(key)) {
                  problems.add(
                      path + "." + key,
                      "unknown key (allowed: "
                          + String.join(", ", TIER_KEYS.stream().sorted().toList())
                          + ")");
                }
              });
          Integer steps = positive(c, "steps", path, problems, 100_000);
          Integer resolution = positive(c, "resolution", path, problems, 16_384);
          Integer vram = positive(c, "vram_mb", path, problems, 1_048_576);
          Integer maxConcurrent = positive(c, "max_concurrent", path, problems, 10_000);
          Integer timeout = positive(c, "timeout_seconds", path, problems, 86_400);
          String sampler = c.has("sampler") ? c.get("sampler").asText(null) : null;
          String model = null;
          if (c.has("model")) {
            JsonNode m = c.get("model");
            if (!m.isTextual() || !io.tempera.models.ModelSpec.validId(m.asText())) {
              problems.add(
                  path + ".model",
                  "must be a model registry id (a file models/<id>.json), got " + m);
            } else {
              model = m.asText();
            }
          }
          List<String> optimizations = new ArrayList<>();
          if (c.has("optimizations")) {
            if (!c.get("optimizations").isArray()) {
              problems.add(path + ".optimizations", "must be a list of names");
            } else {
              c.get("optimizations").forEach(o -> optimizations.add(o.asText()));
            }
          }
          io.tempera.generation.PhaseTimeouts timeouts =
              c.has("timeouts")
                  ? readTimeouts(c.get("timeouts"), path + ".timeouts", problems)
                  : null;
          out.put(
              tier,
              new TierConfig(
                  steps,
                  resolution,
                  sampler,
                  vram,
                  optimizations,
                  maxConcurrent,
                  timeout,
                  model,
                  timeouts));
        });
    return out;
  }

  static final Set<String> TIMEOUT_KEYS =
      Set.of(
          "slot_wait_seconds",
          "model_start_seconds",
          "queue_wait_seconds",
          "stall_seconds",
          "output_seconds");

  /**
   * Phase timeouts: {slot_wait_seconds, model_start_seconds, queue_wait_seconds, stall_seconds,
   * output_seconds}, each optional.
   */
  private static io.tempera.generation.PhaseTimeouts readTimeouts(
      JsonNode node, String path, Problems problems) {
    if (node == null) {
      return io.tempera.generation.PhaseTimeouts.NONE;
    }
    if (!node.isObject()) {
      problems.add(
          path,
          "must be an object {" + String.join(", ", TIMEOUT_KEYS.stream().sorted().toList()) + "}");
      return io.tempera.generation.PhaseTimeouts.NONE;
    }
    node.fieldNames()
        .forEachRemaining(key -> {
          if (!TIMEOUT_KEYS.contains(key)) {
            problems.add(
                path + "." + key,
                "unknown key (allowed: "
                    + String.join(", ", TIMEOUT_KEYS.stream().sorted().toList())
                    + ")");
          }
        });
    return new io.tempera.generation.PhaseTimeouts(
        positive(node, "slot_wait_seconds", path, problems, 86_400),
        positive(node, "model_start_seconds", path, problems, 3_600),
        positive(node, "queue_wait_seconds", path, problems, 86_400),
        positive(node, "stall_seconds", path, problems, 86_400),
        positive(node, "output_seconds", path, problems, 3_600));
  }

  private static Integer positive(
      JsonNode config, String key, String path, Problems problems, int max) {
    JsonNode value = config.get(key);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isIntegralNumber()
        || !value.canConvertToLong() // asLong() would read 2^64 + 1 as 1
        || value.asLong() < 1
        || value.asLong() > max) {
      problems.add(path + "." + key, "must be a whole number from 1 to " + max);
      return null;
    }
    return value.asInt();
  }

  /** A/B variants: [{name, weight, quality_parameters?}], names unique, weights positive. */
  private List<Variant> readVariants(
      JsonNode node, ObjectNode graph, boolean script, boolean gradio, Problems problems) {
    List<Variant> out = new ArrayList<>();
    if (node == null) {
      return out;
    }
    if (!node.isArray() || node.size() < 2) {
      problems.add(
          "$.variants", "must be a list of at least two {name, weight, quality_parameters?}");
      return out;
    }
    Set<String> names = new java.util.HashSet<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode v = node.get(i);
      String path = "$.variants[" + i + "]";
      String name = v.path("name").asText(null);
      if (name == null || name.isBlank() || !names.add(name)) {
        problems.add(
            path + ".name",
            name == null || name.isBlank() ? "required" : "variant '" + name + "' is named twice");
        continue;
      }
      JsonNode weight = v.get("weight");
      if (weight == null
          || !weight.isIntegralNumber()
          || !weight.canConvertToInt() // asInt() would read 2^32 + 1 as 1
          || weight.asInt() < 1
          || weight.asInt() > 1_000_000) {
        problems.add(path + ".weight", "must be a whole number from 1 to 1000000");
        continue;
      }
      Map<QualityTier, Map<GraphTarget, Object>> overrides = new EnumMap<>(QualityTier.class);
      JsonNode qp = v.get("quality_parameters");
      if (qp != null) {
        if (!qp.isObject()) {
          problems.add(path + ".quality_parameters", "must be an object {tier: {target: value}}");
          continue;
        }
        for (java.util.Iterator<Map.Entry<String, JsonNode>> it = qp.fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> tierEntry = it.next();
          QualityTier tier = QualityTier.fromId(tierEntry.getKey());
          if (tier == null || !tierEntry.getValue().isObject()) {
            problems.add(
                path + ".quality_parameters." + tierEntry.getKey(),
                "must be a tier (draft, standard, high, ultra) with an object of settings");
            continue;
          }
          Map<GraphTarget, Object> settings = new LinkedHashMap<>();
          for (java.util.Iterator<Map.Entry<String, JsonNode>> f = tierEntry.getValue().fields();
              f.hasNext(); ) {
            Map.Entry<String, JsonNode> e = f.next();
            String settingPath =
                path + ".quality_parameters." + tierEntry.getKey() + "." + e.getKey();
            GraphTarget target =
                script
                    ? new GraphTarget(SCRIPT_TIER_NODE, e.getKey())
                    : gradio ? gradioTarget(e.getKey()) : GraphTarget.parse(e.getKey());
            if (target == null) {
              problems.add(
                  settingPath,
                  gradio
                      ? "must be a Gradio parameter name or position"
                      : "must look like '<node id>.inputs.<input name>'");
            } else if (script || gradio || targetExists(graph, target, settingPath, problems)) {
              settings.put(target, json.convertValue(e.getValue(), Object.class));
            }
          }
          overrides.put(tier, settings);
        }
      }
      out.add(new Variant(name, weight.asInt(), overrides));
    }
    return out;
  }

  /** What the user reads in each phase, e.g. {"GENERATING": "Inverting your colours"}. */
  private static Map<String, String> readMessages(JsonNode node, Problems problems) {
    Map<String, String> messages = new LinkedHashMap<>();
    if (node == null) {
      return messages;
    }
    if (!node.isObject()) {
      problems.add("$.progress_messages", "must be an object {phase: message}");
      return messages;
    }
    Set<String> phases =
        java.util.Arrays.stream(io.tempera.generation.Phase.values())
            .map(Enum::name)
            .collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
    node.fields()
        .forEachRemaining(entry -> {
          if (!phases.contains(entry.getKey())) {
            problems.add(
                "$.progress_messages." + entry.getKey(),
                "unknown phase (phases: " + String.join(", ", phases) + ")");
          } else if (!entry.getValue().isTextual() || entry.getValue().asText().isBlank()) {
            problems.add("$.progress_messages." + entry.getKey(), "must be a non-empty string");
          } else {
            messages.put(entry.getKey(), entry.getValue().asText());
          }
        });
    return messages;
  }

  /** A Gradio endpoint parameter, by name or zero-based position; null when neither. */
  static GraphTarget gradioTarget(String text) {
    return text != null && GRADIO_TARGET.matcher(text).matches()
        ? new GraphTarget(GRADIO_NODE, text)
        : null;
  }

  /** A Gradio backend's payload template: the endpoint, and the inputs the translation fills. */
  private ObjectNode readGradio(JsonNode backend, Problems problems) {
    for (Iterator<String> it = backend.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!key.equals("type") && !key.equals("api_name") && !key.equals("outputs")) {
        problems.add(
            "$.backend." + key,
            "unknown key for a gradio backend (allowed: type, api_name, outputs)");
      }
    }
    JsonNode apiName = backend.get("api_name");
    if (apiName == null
        || !apiName.isTextual()
        || !apiName.asText().matches("/?[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}")) {
      problems.add(
          "$.backend.api_name",
          "required for gradio: the endpoint's api_name, e.g. \"/generate\" (see the app's \"Use via API\" page)");
      return null;
    }
    ObjectNode payload = json.createObjectNode();
    payload.put(
        "api_name", apiName.asText().startsWith("/") ? apiName.asText() : "/" + apiName.asText());
    payload.putObject("inputs");
    JsonNode outputs = backend.get("outputs");
    if (outputs != null) {
      payload.set("outputs", readGradioOutputs(outputs, problems));
    }
    return payload;
  }

  /**
   * The outputs a Gradio function promises: {@code [{"name": "caption", "from": "Caption" | 1,
   * "required": true}]}, where {@code from} is the endpoint's output label (as its "Use via API"
   * page shows it) or zero-based position, by default the name itself as a label. A required output
   * the app does not return (or returns empty) fails the generation with OUTPUT_NOT_PRODUCED naming
   * it.
   */
  private ArrayNode readGradioOutputs(JsonNode outputs, Problems problems) {
    ArrayNode read = json.createArrayNode();
    if (!outputs.isArray()) {
      problems.add(
          "$.backend.outputs",
          "a list of {name, from?, required?}, e.g. [{\"name\": \"caption\", \"from\": 1}]");
      return read;
    }
    Set<String> names = new java.util.HashSet<>();
    for (int i = 0; i < outputs.size(); i++) {
      JsonNode output = outputs.get(i);
      String path = "$.backend.outputs[" + i + "]";
      if (!output.isObject()) {
        problems.add(path, "must be an object {name, from?, required?}");
        continue;
      }
      for (Iterator<String> it = output.fieldNames(); it.hasNext(); ) {
        String key = it.next();
        if (!Set.of("name", "from", "required").contains(key)) {
          problems.add(path + "." + key, "unknown key (allowed: name, from, required)");
        }
      }
      JsonNode name = output.get("name");
      if (name == null || !name.isTextual() || !name.asText().matches("[A-Za-z0-9_-]{1,64}")) {
        problems.add(path + ".name", "required: letters, digits, '_' or '-' (at most 64)");
        continue;
      }
      if (!names.add(name.asText())) {
        problems.add(path + ".name", "'" + name.asText() + "' is named twice");
        continue;
      }
      JsonNode from = output.get("from");
      if (from != null
          && !(from.isTextual() && !from.asText().isBlank())
          && !(from.canConvertToInt() && from.isIntegralNumber() && from.asInt() >= 0)) {
        problems.add(
            path + ".from", "the endpoint's output label, or its zero-based position (0, 1, …)");
        continue;
      }
      JsonNode required = output.get("required");
      if (required != null && !required.isBoolean()) {
        problems.add(path + ".required", "true or false");
        continue;
      }
      ObjectNode entry = read.addObject().put("name", name.asText());
      entry.set("from", from == null ? json.getNodeFactory().textNode(name.asText()) : from);
      entry.put("required", required == null || required.asBoolean());
    }
    return read;
  }

  /** A script backend's payload template: its command, run in the template's folder. */
  private ObjectNode readScript(Path templateFile, JsonNode command, Problems problems) {
    if (command == null || !command.isArray() || command.isEmpty()) {
      problems.add(
          "$.backend.command",
          "required for a script: the program and its fixed arguments, e.g. [\"python3\", \"make.py\"]");
      return null;
    }
    for (JsonNode arg : command) {
      if (!arg.isTextual() || arg.asText().isEmpty()) {
        problems.add("$.backend.command", "every element must be a non-empty string");
        return null;
      }
    }
    ObjectNode payload = json.createObjectNode();
    payload.set("command", command.deepCopy());
    payload.put("workingDir", templateFile.toAbsolutePath().normalize().getParent().toString());
    return payload;
  }

  private Map<QualityTier, Map<GraphTarget, Object>> readTiers(
      JsonNode node, ObjectNode graph, boolean script, boolean gradio, Problems problems) {
    Map<QualityTier, Map<GraphTarget, Object>> out = new EnumMap<>(QualityTier.class);
    if (node == null || !node.isObject()) {
      problems.add(
          "$.quality_parameters", "required: an object with draft, standard, high and ultra");
      return out;
    }
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (QualityTier.fromId(key) == null) {
        problems.add(
            "$.quality_parameters." + key, "unknown tier (tiers: draft, standard, high, ultra)");
      }
    }
    for (QualityTier tier : QualityTier.values()) {
      String path = "$.quality_parameters." + tier.id();
      JsonNode values = node.get(tier.id());
      if (values == null || !values.isObject()) {
        problems.add(path, "missing: every tier needs its settings (may be {})");
        continue;
      }
      Map<GraphTarget, Object> settings = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> fields = values.fields(); fields.hasNext(); ) {
        Map.Entry<String, JsonNode> entry = fields.next();
        GraphTarget target =
            script
                ? new GraphTarget(SCRIPT_TIER_NODE, entry.getKey())
                : gradio ? gradioTarget(entry.getKey()) : GraphTarget.parse(entry.getKey());
        if (script || (gradio && target != null)) {
          settings.put(target, json.convertValue(entry.getValue(), Object.class));
        } else if (target == null) {
          problems.add(
              path + "." + entry.getKey(),
              gradio
                  ? "must be a parameter name of the Gradio endpoint or a position 0, 1, …"
                  : "must look like '<node id>.inputs.<input name>'");
        } else if (targetExists(graph, target, path + "." + entry.getKey(), problems)) {
          settings.put(target, json.convertValue(entry.getValue(), Object.class));
        }
      }
      out.put(tier, settings);
    }
    return out;
  }

  /** True when the target exists in the graph; otherwise records why not. */
  private static boolean targetExists(
      ObjectNode graph, GraphTarget target, String path, Problems problems) {
    if (graph == null) {
      return false;
    }
    JsonNode node = graph.get(target.node());
    if (node == null) {
      problems.add(path, "graph has no node '" + target.node() + "'");
      return false;
    }
    if (!node.path("inputs").has(target.input())) {
      problems.add(
          path,
          "graph node '"
              + target.node()
              + "' ("
              + node.path("class_type").asText()
              + ") has no input '"
              + target.input()
              + "'");
      return false;
    }
    return true;
  }

  private static String text(JsonNode root, String key, Problems problems, boolean required) {
    JsonNode node = root.get(key);
    if (node == null || node.isNull()) {
      if (required) {
        problems.add("$." + key, "required");
      }
      return null;
    }
    if (!node.isTextual() || node.asText().isBlank()) {
      problems.add("$." + key, "must be a non-empty string");
      return null;
    }
    return node.asText();
  }

  private static Double number(JsonNode spec, String key, String path, Problems problems) {
    JsonNode node = spec.get(key);
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isNumber()) {
      problems.add(path + "." + key, "must be a number");
      return null;
    }
    return node.asDouble();
  }

  private static final class Problems {
    final String file;
    final List<TemplateProblem> list = new ArrayList<>();

    Problems(String file) {
      this.file = file;
    }

    void add(String path, String reason) {
      list.add(new TemplateProblem(file, path, reason));
    }

    Parsed result() {
      return new Parsed(null, List.copyOf(list));
    }
  }
}
