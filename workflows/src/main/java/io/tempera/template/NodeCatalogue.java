package io.tempera.template;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a ComfyUI server can run, as its {@code GET /object_info} says: every node class with its
 * inputs (required, optional, hidden), their types, choices and limits, and its outputs. Immutable;
 * parsed from the server's JSON by {@link #parse}, which reads both the old combo shape {@code
 * [["a","b"], {…}]} and the newer {@code ["COMBO", {"options": ["a","b"], …}]}. A combo's choices
 * are often the server's files (a checkpoint loader's {@code ckpt_name} lists its checkpoints), so
 * the catalogue also says which model files the server has.
 *
 * @param source who answered, for sentences: e.g. {@code the ComfyUI at http://127.0.0.1:8188}
 * @param classes every node class by its class_type
 */
public record NodeCatalogue(String source, Map<String, NodeClass> classes) {

  /** The widget types a literal value can be given for (besides a combo's choices). */
  public static final String INT = "INT";

  public static final String FLOAT = "FLOAT";
  public static final String STRING = "STRING";
  public static final String BOOLEAN = "BOOLEAN";
  public static final String COMBO = "COMBO";

  /** ComfyUI's wildcard type: any value or link is accepted. */
  public static final String ANY = "*";

  public NodeCatalogue {
    source = source == null || source.isBlank() ? "the ComfyUI server" : source;
    classes = Collections.unmodifiableMap(new LinkedHashMap<>(classes));
  }

  /** Where an input is declared. */
  public enum Section {
    REQUIRED,
    OPTIONAL,
    HIDDEN
  }

  /**
   * One node class.
   *
   * @param name its class_type
   * @param inputs its inputs in the server's order, required first, then optional, then hidden
   * @param outputs the type of each output slot (a combo output is {@code COMBO})
   * @param outputNode true when ComfyUI runs the graph for this node (SaveImage, PreviewImage, …)
   * @param pythonModule where it comes from ({@code nodes}, {@code custom_nodes.x}), when said
   */
  public record NodeClass(
      String name,
      String displayName,
      String category,
      Map<String, NodeInput> inputs,
      List<String> outputs,
      boolean outputNode,
      String pythonModule) {

    public NodeClass {
      inputs = Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
      outputs = List.copyOf(outputs);
    }

    public Optional<NodeInput> input(String name) {
      return Optional.ofNullable(inputs.get(name));
    }

    /** The names of the inputs a graph may set or link (required and optional), in order. */
    public List<String> settableInputs() {
      return inputs.values().stream()
          .filter(i -> i.section() != Section.HIDDEN)
          .map(NodeInput::name)
          .toList();
    }
  }

  /**
   * One input of a node class.
   *
   * @param type INT, FLOAT, STRING, BOOLEAN, COMBO, {@code *}, or a link type (IMAGE, MODEL, …;
   *     newer servers may list several, comma-separated)
   * @param choices a combo's choices (empty for other types)
   * @param min the smallest number accepted (null: no limit)
   * @param max the largest number accepted (null: no limit)
   * @param linkOnly true when only a link from another node is accepted (a link type, or a widget
   *     type the server marks {@code forceInput})
   * @param upload true when the server accepts an uploaded file's name here ({@code image_upload});
   *     its choices, the files in the server's input folder, change with every upload and are not
   *     kept (any file name is taken)
   */
  public record NodeInput(
      String name,
      Section section,
      String type,
      List<Object> choices,
      BigDecimal min,
      BigDecimal max,
      boolean linkOnly,
      boolean upload) {

    public NodeInput {
      choices =
          choices == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(choices));
    }

    public boolean combo() {
      return type.equals(COMBO);
    }

    public boolean required() {
      return section == Section.REQUIRED;
    }
  }

  /** A node class by its class_type. */
  public Optional<NodeClass> node(String classType) {
    return Optional.ofNullable(classes.get(classType));
  }

  /** True for the types a literal value can be written for (widgets), false for link types. */
  public static boolean widgetType(String type) {
    return switch (type) {
      case INT, FLOAT, STRING, BOOLEAN, COMBO, ANY -> true;
      default -> false;
    };
  }

  /**
   * True when a node output of type {@code output} may feed an input of type {@code input}: equal
   * types, the wildcard on either side, or a common type when either names several (comma
   * separated, as newer servers write inputs that take more than one type). A combo input accepts a
   * combo or string output (a node that picks a file name).
   */
  public static boolean linkable(String output, String input) {
    if (output.equals(input) || output.equals(ANY) || input.equals(ANY)) {
      return true;
    }
    if (input.equals(COMBO)) {
      return output.equals(COMBO) || output.equals(STRING);
    }
    for (String o : output.split(",")) {
      for (String i : input.split(",")) {
        if (o.strip().equals(i.strip())) {
          return true;
        }
      }
    }
    return false;
  }

  /** Problems with a server's answer that did not stop it from being read. */
  public record Parsed(NodeCatalogue catalogue, List<String> skipped) {}

  /**
   * Reads a server's {@code /object_info}. A class whose entry cannot be understood is left out and
   * named in {@link Parsed#skipped} (so a template using it reads as "the server lacks it" rather
   * than the whole catalogue failing); anything not an object at the top fails.
   *
   * @throws IllegalArgumentException when {@code objectInfo} is not a JSON object
   */
  public static Parsed parse(JsonNode objectInfo, String source) {
    if (objectInfo == null || !objectInfo.isObject()) {
      throw new IllegalArgumentException(
          "/object_info must answer a JSON object of node classes, got "
              + (objectInfo == null
                  ? "nothing"
                  : objectInfo.getNodeType().toString().toLowerCase()));
    }
    Map<String, NodeClass> classes = new LinkedHashMap<>();
    List<String> skipped = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = objectInfo.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      try {
        classes.put(e.getKey(), parseClass(e.getKey(), e.getValue()));
      } catch (IllegalArgumentException bad) {
        skipped.add(e.getKey() + ": " + bad.getMessage());
      }
    }
    return new Parsed(new NodeCatalogue(source, classes), List.copyOf(skipped));
  }

  private static NodeClass parseClass(String name, JsonNode node) {
    if (!node.isObject()) {
      throw new IllegalArgumentException("not an object");
    }
    Map<String, NodeInput> inputs = new LinkedHashMap<>();
    JsonNode input = node.path("input");
    if (!input.isMissingNode() && !input.isNull() && !input.isObject()) {
      throw new IllegalArgumentException("'input' is not an object");
    }
    for (Section section : Section.values()) {
      JsonNode declared = input.path(section.name().toLowerCase(java.util.Locale.ROOT));
      if (!declared.isObject()) {
        continue;
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = declared.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        inputs.putIfAbsent(e.getKey(), parseInput(e.getKey(), section, e.getValue()));
      }
    }
    List<String> outputs = new ArrayList<>();
    for (JsonNode output : node.path("output")) {
      outputs.add(output.isTextual() ? output.asText() : COMBO); // a list: a combo's choices
    }
    return new NodeClass(
        name,
        node.path("display_name").asText(name),
        node.path("category").asText(""),
        inputs,
        outputs,
        node.path("output_node").asBoolean(false),
        node.path("python_module").isTextual() ? node.get("python_module").asText() : null);
  }

  /**
   * One input declaration: {@code ["INT", {min, max, …}]}, {@code [["a","b"], {…}]}, {@code
   * ["COMBO", {"options": [...]}]}, {@code ["IMAGE"]}; hidden ones are a bare type string.
   */
  private static NodeInput parseInput(String name, Section section, JsonNode spec) {
    if (spec.isTextual()) {
      return new NodeInput(name, section, spec.asText(), List.of(), null, null, false, false);
    }
    if (!spec.isArray() || spec.isEmpty()) {
      throw new IllegalArgumentException("input '" + name + "' is neither a type nor [type, {…}]");
    }
    JsonNode first = spec.get(0);
    JsonNode config = spec.size() > 1 && spec.get(1).isObject() ? spec.get(1) : null;
    String type;
    List<Object> choices = new ArrayList<>();
    if (first.isArray()) {
      type = COMBO;
      first.forEach(c -> choices.add(value(c)));
    } else if (first.isTextual()) {
      type = first.asText();
      if (type.equals(COMBO) && config != null && config.path("options").isArray()) {
        config.get("options").forEach(c -> choices.add(value(c)));
      }
    } else {
      throw new IllegalArgumentException("input '" + name + "' has no type");
    }
    BigDecimal min =
        config != null && config.path("min").isNumber() ? number(config.get("min")) : null;
    BigDecimal max =
        config != null && config.path("max").isNumber() ? number(config.get("max")) : null;
    boolean forceInput = config != null && config.path("forceInput").asBoolean(false);
    boolean upload =
        config != null
            && (config.path("image_upload").asBoolean(false)
                || config.path("video_upload").asBoolean(false)
                || config.path("audio_upload").asBoolean(false)
                || config.path("upload").isTextual());
    if (upload) {
      choices.clear(); // the server's input folder: every upload changes it
    }
    return new NodeInput(
        name, section, type, choices, min, max, forceInput || !widgetType(type), upload);
  }

  private static BigDecimal number(JsonNode n) {
    return n.decimalValue().stripTrailingZeros();
  }

  /** A choice as a plain value: strings, numbers (as BigDecimal), booleans; else its JSON text. */
  private static Object value(JsonNode c) {
    if (c.isTextual()) {
      return c.asText();
    }
    if (c.isNumber()) {
      return number(c);
    }
    if (c.isBoolean()) {
      return c.asBoolean();
    }
    return c.toString();
  }

  /**
   * What two servers both offer, for functions that may run on either: the classes both have, each
   * with the inputs both declare, the choices both list and the tighter limits. Outputs and other
   * details are this catalogue's.
   */
  public NodeCatalogue intersect(NodeCatalogue other) {
    Map<String, NodeClass> both = new LinkedHashMap<>();
    for (NodeClass mine : classes.values()) {
      NodeClass theirs = other.classes.get(mine.name());
      if (theirs == null) {
        continue;
      }
      Map<String, NodeInput> inputs = new LinkedHashMap<>();
      for (NodeInput in : mine.inputs().values()) {
        NodeInput o = theirs.inputs().get(in.name());
        if (o == null) {
          continue;
        }
        List<Object> choices = new ArrayList<>(in.choices());
        choices.retainAll(o.choices());
        inputs.put(
            in.name(),
            new NodeInput(
                in.name(),
                in.required() || o.required() ? Section.REQUIRED : in.section(),
                in.type(),
                choices,
                tighter(in.min(), o.min(), true),
                tighter(in.max(), o.max(), false),
                in.linkOnly() || o.linkOnly(),
                in.upload() && o.upload()));
      }
      both.put(
          mine.name(),
          new NodeClass(
              mine.name(),
              mine.displayName(),
              mine.category(),
              inputs,
              mine.outputs(),
              mine.outputNode(),
              mine.pythonModule()));
    }
    return new NodeCatalogue(source + " and " + other.source, both);
  }

  private static BigDecimal tighter(BigDecimal a, BigDecimal b, boolean min) {
    if (a == null) return b;
    if (b == null) return a;
    return min ? a.max(b) : a.min(b);
  }
}
