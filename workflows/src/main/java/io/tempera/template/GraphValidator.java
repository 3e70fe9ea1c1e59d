package io.tempera.template;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.models.ModelSpec;
import io.tempera.template.NodeCatalogue.NodeClass;
import io.tempera.template.NodeCatalogue.NodeInput;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Checks a ComfyUI template's graph against a server's node catalogue, as the server would check
 * the prompt, before any generation runs: every node's class exists; every input it is given is one
 * its class takes; every required input is set, linked or filled by a parameter; every literal
 * value has the input's type, is one of a combo's choices (a model loader's choices are the
 * server's model files) and lies within its limits; every link points at an existing output of a
 * type the input takes; and the graph has an output node.
 *
 * <p>The graph is checked as each tier (and each A/B variant) sends it: the tier's values written
 * in, every parameter at its default, computed mappings evaluated on the defaults. Inputs a request
 * fills are checked through their parameter instead: its type must suit the input (else every run
 * fails), its default must be accepted, and its choices and range should lie within the input's (a
 * warning: only the requests that use the rest would fail).
 */
public final class GraphValidator {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** File names a model loader lists. */
  private static final Pattern FILE_NAME =
      Pattern.compile(
          ".+\\.(safetensors|ckpt|pt|pth|bin|gguf|sft|onnx|pkl|yaml|json)$",
          Pattern.CASE_INSENSITIVE);

  private static final int CHOICES_SHOWN = 8;

  private final FunctionTemplate template;
  private final Map<String, ModelSpec> models;
  private final Set<NodeProblem> problems = new LinkedHashSet<>();

  private GraphValidator(FunctionTemplate template, Map<String, ModelSpec> models) {
    this.template = template;
    this.models = models == null ? Map.of() : models;
  }

  /** Checks every tier (and variant) against one catalogue. */
  public static List<NodeProblem> validate(FunctionTemplate template, NodeCatalogue catalogue) {
    return validate(template, tier -> Optional.of(catalogue));
  }

  /**
   * Checks each tier against the catalogue of the servers it runs on (none: that tier is not
   * checked). Templates of other backends have nothing to check.
   */
  public static List<NodeProblem> validate(
      FunctionTemplate template, Function<QualityTier, Optional<NodeCatalogue>> catalogueFor) {
    return validate(template, catalogueFor, Map.of());
  }

  /**
   * Checks each tier against the catalogue of the servers it runs on, with the model registry's
   * entries ({@code models}, by id): a {@code model_file} mapping writes the file of the tier's
   * model, which the server must have; each fallback's file is checked too (a warning: only runs
   * that fall back would fail).
   */
  public static List<NodeProblem> validate(
      FunctionTemplate template,
      Function<QualityTier, Optional<NodeCatalogue>> catalogueFor,
      Map<String, ModelSpec> models) {
    if (!"comfyui".equals(template.backendType()) || template.graph() == null) {
      return List.of();
    }
    GraphValidator validator = new GraphValidator(template, models);
    Set<NodeCatalogue> used = new LinkedHashSet<>();
    for (QualityTier tier : QualityTier.values()) {
      Optional<NodeCatalogue> catalogue = catalogueFor.apply(tier);
      if (catalogue.isEmpty()) {
        continue;
      }
      used.add(catalogue.get());
      validator.checkGraph(catalogue.get(), tier, -1);
      for (int v = 0; v < template.variants().size(); v++) {
        validator.checkGraph(catalogue.get(), tier, v);
      }
      validator.checkFallbackFiles(catalogue.get(), tier);
    }
    used.forEach(validator::checkParameters);
    return List.copyOf(validator.problems);
  }

  // ---- the graph as a tier sends it

  /** Where a value in the applied graph came from: a path in the template and a note for people. */
  private record Origin(String path, String note) {}

  /**
   * The graph as sent at one tier with every parameter at its default, where each written value
   * came from, the inputs a request's parameter fills (checked through the parameter) and the
   * inputs that receive an uploaded file's name.
   */
  private record Applied(
      ObjectNode graph,
      Map<GraphTarget, Origin> origins,
      Set<GraphTarget> fromParameters,
      Set<GraphTarget> uploads) {}

  private Applied apply(QualityTier tier, int variantIndex) {
    ObjectNode graph = template.graph().deepCopy();
    Map<GraphTarget, Origin> origins = new HashMap<>();
    Set<GraphTarget> fromParameters = new HashSet<>();
    Set<GraphTarget> uploads = new HashSet<>();
    template
        .qualityParameters()
        .getOrDefault(tier, Map.of())
        .forEach((target, value) -> {
          write(graph, target, value);
          origins.put(
              target,
              new Origin(
                  "$.quality_parameters." + tier.id() + "[\"" + target + "\"]",
                  "set by the " + tier.id() + " tier"));
        });
    if (variantIndex >= 0) {
      Variant variant = template.variants().get(variantIndex);
      variant
          .qualityParameters()
          .getOrDefault(tier, Map.of())
          .forEach((target, value) -> {
            write(graph, target, value);
            origins.put(
                target,
                new Origin(
                    "$.variants["
                        + variantIndex
                        + "].quality_parameters."
                        + tier.id()
                        + "[\""
                        + target
                        + "\"]",
                    "set by variant '" + variant.name() + "' at the " + tier.id() + " tier"));
          });
    }
    Map<String, Object> values = new HashMap<>();
    template
        .parameters()
        .values()
        .forEach(spec -> {
          if (spec.hasDefault()) {
            values.put(spec.name(), spec.defaultValue());
          }
        });
    values.put("tier", tier.id());
    // a computed value from the defaults alone yields to the tier's value (TemplateTranslator)
    Set<GraphTarget> setByTier = new HashSet<>(origins.keySet());
    List<ParameterMapping> mappings = template.mappings();
    for (int i = 0; i < mappings.size(); i++) {
      ParameterMapping mapping = mappings.get(i);
      GraphTarget target = mapping.target();
      try {
        if (mapping.when() != null && !mapping.when().test(values)) {
          continue; // the graph's own value stays
        }
      } catch (Expression.ExpressionException needsRequest) {
        fromParameters.add(target); // reads a parameter only a request gives
        continue;
      }
      switch (mapping.type()) {
        case ParameterMapping.COMPUTED -> {
          if (setByTier.contains(target)) {
            continue; // the tier's value is what is sent unless a request gives a parameter
          }
          Object value;
          try {
            value = mapping.expression().evaluate(values);
          } catch (Expression.ExpressionException needsRequest) {
            fromParameters.add(target);
            continue;
          }
          write(graph, target, value);
          fromParameters.remove(target);
          uploads.remove(target);
          origins.put(
              target,
              new Origin(
                  "$.parameter_mapping[" + i + "]",
                  "computed by parameter_mapping["
                      + i
                      + "] at the "
                      + tier.id()
                      + " tier with every parameter at its default"));
        }
        case ParameterMapping.FILE_UPLOAD -> {
          uploads.add(target);
          fromParameters.remove(target);
        }
        case ParameterMapping.MODEL_FILE -> {
          ModelSpec model = tierModel(tier);
          String file = model == null ? null : model.files().get(mapping.modelFile());
          if (file == null) {
            fromParameters.add(target); // the registry refuses the template for it
            continue;
          }
          write(graph, target, file);
          fromParameters.remove(target);
          uploads.remove(target);
          origins.put(
              target,
              new Origin(
                  "$.parameter_mapping[" + i + "]",
                  "the " + mapping.modelFile() + " file of model '" + model.id() + "'"));
        }
        default -> {
          // direct and lookup: checked through the parameter (checkParameters); other kinds
          // write what only the run knows
          fromParameters.add(target);
          uploads.remove(target);
        }
      }
    }
    return new Applied(graph, origins, fromParameters, uploads);
  }

  private static void write(ObjectNode graph, GraphTarget target, Object value) {
    JsonNode node = graph.get(target.node());
    if (node != null && node.path("inputs").isObject()) {
      ((ObjectNode) node.get("inputs")).set(target.input(), JSON.valueToTree(value));
    }
  }

  private void checkGraph(NodeCatalogue catalogue, QualityTier tier, int variantIndex) {
    Applied applied = apply(tier, variantIndex);
    Set<GraphTarget> mapped = new HashSet<>();
    template.mappings().forEach(m -> mapped.add(m.target()));
    boolean unknownClass = false;
    boolean outputNode = false;
    for (Iterator<Map.Entry<String, JsonNode>> it = applied.graph().fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String id = entry.getKey();
      String classType = entry.getValue().path("class_type").asText();
      NodeClass nodeClass = catalogue.classes().get(classType);
      if (nodeClass == null) {
        unknownClass = true;
        blocking(
            NodeProblem.UNKNOWN_NODE_CLASS,
            graphPath(id) + ".class_type",
            id,
            classType,
            null,
            "node "
                + id
                + " uses the node class "
                + classType
                + ", which "
                + catalogue.source()
                + " does not have: install the custom node that provides it there, or change the"
                + " graph");
        continue;
      }
      outputNode |= nodeClass.outputNode();
      JsonNode inputs = entry.getValue().path("inputs");
      for (Iterator<Map.Entry<String, JsonNode>> in = inputs.fields(); in.hasNext(); ) {
        Map.Entry<String, JsonNode> given = in.next();
        checkInput(
            catalogue,
            applied,
            id,
            nodeClass,
            given.getKey(),
            given.getValue(),
            tier,
            variantIndex);
      }
      for (NodeInput input : nodeClass.inputs().values()) {
        if (input.required()
            && !inputs.has(input.name())
            && !mapped.contains(new GraphTarget(id, input.name()))) {
          blocking(
              NodeProblem.MISSING_INPUT,
              graphPath(id) + ".inputs",
              id,
              classType,
              input.name(),
              label(id, classType)
                  + " needs input '"
                  + input.name()
                  + "' ("
                  + describeType(input)
                  + "), but the graph neither sets nor links it and no parameter fills it");
        }
      }
    }
    if (!unknownClass && !outputNode) {
      blocking(
          NodeProblem.NO_OUTPUT_NODE,
          "$.backend.graph",
          null,
          null,
          null,
          "the graph has no output node (such as SaveImage or PreviewImage), so ComfyUI would run"
              + " nothing and refuse it");
    }
  }

  private void checkInput(
      NodeCatalogue catalogue,
      Applied applied,
      String id,
      NodeClass nodeClass,
      String name,
      JsonNode value,
      QualityTier tier,
      int variantIndex) {
    GraphTarget target = new GraphTarget(id, name);
    String path = graphPath(id) + ".inputs." + name;
    NodeInput input = nodeClass.inputs().get(name);
    if (input == null) {
      blocking(
          NodeProblem.UNKNOWN_INPUT,
          path,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name())
              + " has no input '"
              + name
              + "' (ComfyUI would ignore it); its inputs are "
              + String.join(", ", nodeClass.settableInputs()));
      return;
    }
    if (input.section() == NodeCatalogue.Section.HIDDEN) {
      return; // the server fills it
    }
    if (value.isArray()) {
      checkLink(catalogue, applied.graph(), id, nodeClass, input, value, path);
      return;
    }
    if (applied.uploads().contains(target)) {
      if (input.linkOnly() || !(input.upload() || input.combo() || input.type().equals("STRING"))) {
        blocking(
            NodeProblem.WRONG_TYPE,
            path,
            id,
            nodeClass.name(),
            name,
            label(id, nodeClass.name())
                + " input '"
                + name
                + "' takes "
                + describeType(input)
                + ", not the name of an uploaded file");
      }
      return;
    }
    if (applied.fromParameters().contains(target)) {
      return; // checked through its parameter
    }
    Origin origin = applied.origins().get(target);
    String where = origin == null ? path : origin.path();
    String note = origin == null ? "" : " (" + origin.note() + ")";
    Finding finding = literal(catalogue, input, value);
    if (finding != null) {
      blocking(
          finding.code(),
          where,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name()) + " input '" + name + "' " + finding.text() + note);
    }
  }

  private void checkLink(
      NodeCatalogue catalogue,
      ObjectNode graph,
      String id,
      NodeClass nodeClass,
      NodeInput input,
      JsonNode link,
      String path) {
    String name = input.name();
    if (link.size() != 2
        || !(link.get(0).isTextual() || link.get(0).isIntegralNumber())
        || !link.get(1).isIntegralNumber()
        || link.get(1).asInt() < 0) {
      blocking(
          NodeProblem.BAD_LINK,
          path,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name())
              + " input '"
              + name
              + "' is a list, which ComfyUI reads as a link: it must be [node id, output index],"
              + " got "
              + link);
      return;
    }
    String source = link.get(0).asText();
    int slot = link.get(1).asInt();
    JsonNode from = graph.get(source);
    if (from == null) {
      blocking(
          NodeProblem.BAD_LINK,
          path,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name())
              + " input '"
              + name
              + "' links to node "
              + source
              + ", which the graph does not have");
      return;
    }
    String fromClass = from.path("class_type").asText();
    NodeClass sourceClass = catalogue.classes().get(fromClass);
    if (sourceClass == null) {
      return; // reported as an unknown class
    }
    if (slot >= sourceClass.outputs().size()) {
      blocking(
          NodeProblem.BAD_LINK,
          path,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name())
              + " input '"
              + name
              + "' links to output "
              + slot
              + " of "
              + label(source, fromClass)
              + ", which has "
              + (sourceClass.outputs().isEmpty()
                  ? "no outputs"
                  : "only outputs 0 to " + (sourceClass.outputs().size() - 1)));
      return;
    }
    String given = sourceClass.outputs().get(slot);
    if (!NodeCatalogue.linkable(given, input.type())) {
      blocking(
          NodeProblem.LINK_TYPE_MISMATCH,
          path,
          id,
          nodeClass.name(),
          name,
          label(id, nodeClass.name())
              + " input '"
              + name
              + "' takes "
              + describeType(input)
              + ", but it is linked to output "
              + slot
              + " of "
              + label(source, fromClass)
              + ", which gives "
              + given);
    }
  }

  /** The model registry entry the tier runs on (null: none). */
  private ModelSpec tierModel(QualityTier tier) {
    TierConfig config = template.tierConfigs().get(tier);
    return config == null || config.model() == null ? null : models.get(config.model());
  }

  /**
   * The files of the tier's model's fallbacks, which {@code model_file} mappings write when a run
   * falls back: a file the server lacks is a warning (only those runs would fail).
   */
  private void checkFallbackFiles(NodeCatalogue catalogue, QualityTier tier) {
    ModelSpec first = tierModel(tier);
    if (first == null) {
      return;
    }
    List<ParameterMapping> mappings = template.mappings();
    for (int i = 0; i < mappings.size(); i++) {
      ParameterMapping mapping = mappings.get(i);
      if (!ParameterMapping.MODEL_FILE.equals(mapping.type())) {
        continue;
      }
      GraphTarget target = mapping.target();
      String classType = template.graph().path(target.node()).path("class_type").asText();
      NodeClass nodeClass = catalogue.classes().get(classType);
      NodeInput input = nodeClass == null ? null : nodeClass.inputs().get(target.input());
      if (input == null) {
        continue; // reported with the graph
      }
      Set<String> seen = new HashSet<>(Set.of(first.id()));
      for (ModelSpec model = next(first);
          model != null && seen.add(model.id());
          model = next(model)) {
        String file = model.files().get(mapping.modelFile());
        if (file == null) {
          continue; // the registry refuses the template for it
        }
        Finding finding = literal(catalogue, input, JSON.valueToTree(file));
        if (finding != null) {
          warning(
              finding.code(),
              "$.parameter_mapping[" + i + "]",
              target,
              input,
              label(target.node(), classType)
                  + " input '"
                  + target.input()
                  + "' "
                  + finding.text()
                  + " (the "
                  + mapping.modelFile()
                  + " file of model '"
                  + model.id()
                  + "', which runs when a model it backs up cannot be loaded)");
        }
      }
    }
  }

  private ModelSpec next(ModelSpec model) {
    return model.fallback() == null ? null : models.get(model.fallback());
  }

  // ---- inputs a request fills, checked through their parameters

  private void checkParameters(NodeCatalogue catalogue) {
    List<ParameterMapping> mappings = template.mappings();
    for (int i = 0; i < mappings.size(); i++) {
      ParameterMapping mapping = mappings.get(i);
      boolean direct = mapping.type().equals(ParameterMapping.DIRECT);
      boolean lookup = mapping.type().equals(ParameterMapping.LOOKUP);
      if (!direct && !lookup) {
        continue;
      }
      GraphTarget target = mapping.target();
      String classType = template.graph().path(target.node()).path("class_type").asText();
      NodeClass nodeClass = catalogue.classes().get(classType);
      NodeInput input = nodeClass == null ? null : nodeClass.inputs().get(target.input());
      if (input == null || input.section() == NodeCatalogue.Section.HIDDEN) {
        continue; // reported with the graph
      }
      ParameterSpec spec = template.parameters().get(mapping.parameter());
      if (spec == null) {
        continue;
      }
      String node = label(target.node(), classType) + " input '" + target.input() + "'";
      String path = "$.parameter_mapping[" + i + "]";
      if (lookup) {
        checkTable(catalogue, mapping, spec, input, node, path, target);
      } else {
        checkDirect(catalogue, spec, input, node, path, target);
      }
    }
  }

  private void checkDirect(
      NodeCatalogue catalogue,
      ParameterSpec spec,
      NodeInput input,
      String node,
      String path,
      GraphTarget target) {
    String param = "parameter '" + spec.name() + "'";
    String typeProblem = parameterTypeProblem(spec, input);
    if (typeProblem != null) {
      blocking(
          NodeProblem.WRONG_TYPE,
          path,
          target,
          input,
          param + " is " + typeProblem + ", but " + node + " takes " + describeType(input));
      return;
    }
    if (spec.nullable()) {
      warning(
          "$.parameters." + spec.name() + ".nullable",
          target,
          input,
          param
              + " may be null, which is written into the graph as null, but "
              + node
              + " takes "
              + describeType(input)
              + ": a request sending null would fail there");
    }
    if (spec.defaultValue() != null) {
      Finding finding =
          literal(catalogue, input, JSON.valueToTree(parameterValue(spec, spec.defaultValue())));
      if (finding != null) {
        blocking(
            finding.code(),
            "$.parameters." + spec.name() + ".default",
            target,
            input,
            node + " " + finding.text() + " (the default of " + param + ")");
      }
    }
    if (input.combo()) {
      if (spec.enumValues().isEmpty()) {
        if (!input.choices().isEmpty()) {
          warning(
              path,
              target,
              input,
              param
                  + " takes any "
                  + spec.type()
                  + ", but "
                  + node
                  + " accepts only "
                  + choices(input)
                  + " on "
                  + catalogue.source()
                  + ": give the parameter an enum");
        }
        return;
      }
      for (Object choice : spec.enumValues()) {
        if (sameValue(choice, spec.defaultValue())) {
          continue; // checked as the default
        }
        Finding finding = literal(catalogue, input, JSON.valueToTree(choice));
        if (finding != null) {
          warning(
              "$.parameters." + spec.name() + ".enum",
              target,
              input,
              node + " " + finding.text() + " (a choice of " + param + ")");
        }
      }
      return;
    }
    if (input.min() != null
        && (spec.min() == null || BigDecimal.valueOf(spec.min()).compareTo(input.min()) < 0)) {
      warning(
          "$.parameters." + spec.name() + ".min",
          target,
          input,
          param
              + (spec.min() == null ? " has no minimum" : " allows " + plain(spec.min()))
              + ", but "
              + node
              + " takes at least "
              + input.min().toPlainString()
              + ": give the parameter \"min\": "
              + input.min().toPlainString());
    }
    BigDecimal longestWhole = BigDecimal.valueOf(Long.MAX_VALUE);
    BigDecimal specMax =
        spec.max() != null
            ? BigDecimal.valueOf(spec.max())
            : spec.type().equals("integer") ? longestWhole : null;
    if (input.max() != null && (specMax == null || specMax.compareTo(input.max()) > 0)) {
      warning(
          "$.parameters." + spec.name() + ".max",
          target,
          input,
          param
              + (spec.max() == null ? " has no maximum" : " allows " + plain(spec.max()))
              + ", but "
              + node
              + " takes at most "
              + input.max().toPlainString()
              + ": give the parameter \"max\": "
              + input.max().toPlainString());
    }
  }

  private void checkTable(
      NodeCatalogue catalogue,
      ParameterMapping mapping,
      ParameterSpec spec,
      NodeInput input,
      String node,
      String path,
      GraphTarget target) {
    String byDefault = spec.defaultValue() == null ? null : String.valueOf(spec.defaultValue());
    for (Map.Entry<String, Object> entry : mapping.table().entrySet()) {
      Finding finding = literal(catalogue, input, JSON.valueToTree(entry.getValue()));
      if (finding == null) {
        continue;
      }
      String where = path + ".table." + entry.getKey();
      String text =
          node
              + " "
              + finding.text()
              + " (the table's entry for "
              + (entry.getKey().equals(byDefault) ? "the default " : "")
              + "'"
              + entry.getKey()
              + "' of parameter '"
              + spec.name()
              + "')";
      if (entry.getKey().equals(byDefault)) {
        blocking(finding.code(), where, target, input, text);
      } else {
        warning(where, target, input, text);
      }
    }
  }

  /** Why a parameter of this type cannot fill the input, or null when it can. */
  private static String parameterTypeProblem(ParameterSpec spec, NodeInput input) {
    if (input.linkOnly()) {
      return "a value";
    }
    String type = input.type();
    if (type.equals(NodeCatalogue.ANY)) {
      return null;
    }
    boolean ok =
        switch (spec.type()) {
          case "string" -> type.equals(NodeCatalogue.STRING) || input.combo();
          case "integer" ->
              type.equals(NodeCatalogue.INT)
                  || type.equals(NodeCatalogue.FLOAT)
                  || (input.combo() && !spec.enumValues().isEmpty());
          case "number" ->
              type.equals(NodeCatalogue.FLOAT) || (input.combo() && !spec.enumValues().isEmpty());
          case "boolean" -> type.equals(NodeCatalogue.BOOLEAN);
          default -> false;
        };
    if (ok) {
      return null;
    }
    return switch (spec.type()) {
      case "integer" -> "a whole number";
      case "number" -> "a number that may have a fraction";
      case "boolean" -> "a true/false value";
      case "image" -> "an image (its uploaded file's name)";
      default -> "text";
    };
  }

  /** An integer parameter's value as the translator writes it (a whole number stays whole). */
  private static Object parameterValue(ParameterSpec spec, Object value) {
    return spec.type().equals("integer") && value instanceof Number n ? n.longValue() : value;
  }

  // ---- literal values

  private record Finding(String code, String text) {}

  /** Why the input refuses this literal value (text follows "node … input 'x' "), or null. */
  private static Finding literal(NodeCatalogue catalogue, NodeInput input, JsonNode value) {
    String type = input.type();
    if (type.equals(NodeCatalogue.ANY)) {
      return null;
    }
    if (input.linkOnly()) {
      return new Finding(
          NodeProblem.WRONG_TYPE,
          "takes a link from a node that gives "
              + type
              + ", not a value ("
              + shown(value)
              + " is written there)");
    }
    if (input.combo()) {
      if (input.upload()) {
        // any file name: its choices are the server's input folder, which every upload changes
        return value.isTextual()
            ? null
            : new Finding(NodeProblem.WRONG_TYPE, "takes a file name, not " + shown(value));
      }
      if (input.choices().stream().anyMatch(c -> sameChoice(c, value))) {
        return null;
      }
      boolean file =
          value.isTextual()
              && (FILE_NAME.matcher(value.asText()).matches()
                  || (!input.choices().isEmpty()
                      && input.choices().stream()
                          .allMatch(c -> FILE_NAME.matcher(String.valueOf(c)).matches())));
      if (file) {
        return new Finding(
            NodeProblem.MISSING_MODEL_FILE,
            "names the file "
                + shown(value)
                + ", which "
                + catalogue.source()
                + " does not have ("
                + (input.choices().isEmpty() ? "it has none there" : "it has " + choices(input))
                + ")");
      }
      return new Finding(
          NodeProblem.NOT_A_CHOICE,
          "is "
              + shown(value)
              + ", which is not one of its choices on "
              + catalogue.source()
              + ": "
              + (input.choices().isEmpty() ? "it has none" : choices(input)));
    }
    switch (type) {
      case NodeCatalogue.INT -> {
        if (!value.isNumber() || !whole(value.decimalValue())) {
          return new Finding(
              NodeProblem.WRONG_TYPE, "takes a whole number (INT), not " + shown(value));
        }
      }
      case NodeCatalogue.FLOAT -> {
        if (!value.isNumber()) {
          return new Finding(NodeProblem.WRONG_TYPE, "takes a number (FLOAT), not " + shown(value));
        }
      }
      case NodeCatalogue.STRING -> {
        if (!value.isTextual()) {
          return new Finding(NodeProblem.WRONG_TYPE, "takes text (STRING), not " + shown(value));
        }
      }
      case NodeCatalogue.BOOLEAN -> {
        if (!value.isBoolean()) {
          return new Finding(
              NodeProblem.WRONG_TYPE, "takes true or false (BOOLEAN), not " + shown(value));
        }
      }
      default -> {
        return null;
      }
    }
    if (value.isNumber()) {
      BigDecimal number = value.decimalValue();
      if (input.min() != null && number.compareTo(input.min()) < 0) {
        return new Finding(
            NodeProblem.OUT_OF_RANGE,
            "is "
                + number.stripTrailingZeros().toPlainString()
                + ", below its minimum "
                + input.min().toPlainString());
      }
      if (input.max() != null && number.compareTo(input.max()) > 0) {
        return new Finding(
            NodeProblem.OUT_OF_RANGE,
            "is "
                + number.stripTrailingZeros().toPlainString()
                + ", above its maximum "
                + input.max().toPlainString());
      }
    }
    return null;
  }

  private static boolean whole(BigDecimal number) {
    return number.stripTrailingZeros().scale() <= 0;
  }

  private static boolean sameChoice(Object choice, JsonNode value) {
    if (choice instanceof BigDecimal number) {
      return value.isNumber() && number.compareTo(value.decimalValue()) == 0;
    }
    if (choice instanceof Boolean b) {
      return value.isBoolean() && b == value.asBoolean();
    }
    return value.isTextual() && choice.equals(value.asText());
  }

  private static boolean sameValue(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return new BigDecimal(x.toString()).compareTo(new BigDecimal(y.toString())) == 0;
    }
    return a != null && a.equals(b);
  }

  // ---- sentences

  private static String label(String id, String classType) {
    return "node " + id + " (" + classType + ")";
  }

  private static String graphPath(String id) {
    return "$.backend.graph[\"" + id + "\"]";
  }

  private static String describeType(NodeInput input) {
    if (input.combo() && input.upload()) {
      return "a file name (an upload)";
    }
    if (input.combo()) {
      return "one of " + choices(input);
    }
    return switch (input.type()) {
      case NodeCatalogue.INT -> "a whole number (INT)";
      case NodeCatalogue.FLOAT -> "a number (FLOAT)";
      case NodeCatalogue.STRING -> "text (STRING)";
      case NodeCatalogue.BOOLEAN -> "true or false (BOOLEAN)";
      default -> input.type();
    };
  }

  private static String choices(NodeInput input) {
    if (input.choices().isEmpty()) {
      return "no choices";
    }
    List<String> shown =
        input.choices().stream()
            .limit(CHOICES_SHOWN)
            .map(c -> c instanceof String s ? "'" + s + "'" : String.valueOf(c))
            .toList();
    int more = input.choices().size() - shown.size();
    return String.join(", ", shown) + (more > 0 ? " and " + more + " more" : "");
  }

  private static String shown(JsonNode value) {
    if (value.isTextual()) {
      return "'" + value.asText() + "'";
    }
    if (value.isNumber()) {
      return value.decimalValue().stripTrailingZeros().toPlainString();
    }
    return value.toString();
  }

  private static String plain(double d) {
    return BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
  }

  private void blocking(
      String code, String path, String nodeId, String classType, String input, String reason) {
    problems.add(
        new NodeProblem(
            template.id(),
            template.version(),
            template.sourceFile(),
            path,
            nodeId,
            classType,
            input,
            code,
            reason,
            true));
  }

  private void blocking(
      String code, String path, GraphTarget target, NodeInput input, String reason) {
    blocking(
        code,
        path,
        target.node(),
        template.graph().path(target.node()).path("class_type").asText(),
        input.name(),
        reason);
  }

  private void warning(String path, GraphTarget target, NodeInput input, String reason) {
    warning(NodeProblem.PARAMETER_MISMATCH, path, target, input, reason);
  }

  private void warning(
      String code, String path, GraphTarget target, NodeInput input, String reason) {
    problems.add(
        new NodeProblem(
            template.id(),
            template.version(),
            template.sourceFile(),
            path,
            target.node(),
            template.graph().path(target.node()).path("class_type").asText(),
            input.name(),
            code,
            reason,
            false));
  }
}
