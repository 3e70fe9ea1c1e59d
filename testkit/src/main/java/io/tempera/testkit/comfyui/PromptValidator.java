package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** ComfyUI's validate_prompt: the same checks, in the same order, with the same error shapes. */
final class PromptValidator {

  /** Either a top-level error (reply 400 with it), or the valid outputs and the per-node errors. */
  record Outcome(ObjectNode error, List<String> validOutputs, ObjectNode nodeErrors) {}

  private final NodeLibrary library;
  private final ObjectMapper json;
  private final Path inputDir;

  PromptValidator(NodeLibrary library, ObjectMapper json, Path inputDir) {
    this.library = library;
    this.json = json;
    this.inputDir = inputDir;
  }

  Outcome validate(ObjectNode prompt) {
    List<String> outputs = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = prompt.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> node = it.next();
      JsonNode classType = node.getValue().get("class_type");
      if (classType == null || !classType.isTextual()) {
        return new Outcome(
            error(
                "missing_node_type",
                "Node 'ID #"
                    + node.getKey()
                    + "' has no class_type. The workflow may be corrupted or a custom node may be missing.",
                "Node ID '#" + node.getKey() + "'"),
            List.of(),
            json.createObjectNode());
      }
      NodeLibrary.Spec spec = library.get(classType.asText());
      if (spec == null) {
        return new Outcome(
            error(
                "missing_node_type",
                "Cannot execute because node " + classType.asText() + " does not exist.",
                "Node ID '#" + node.getKey() + "'"),
            List.of(),
            json.createObjectNode());
      }
      if (spec.outputNode()) {
        outputs.add(node.getKey());
      }
    }
    if (outputs.isEmpty()) {
      return new Outcome(
          error("prompt_no_outputs", "Prompt has no outputs", ""),
          List.of(),
          json.createObjectNode());
    }
    Map<String, List<ObjectNode>> errorsByNode = new LinkedHashMap<>();
    Map<String, Boolean> validated = new HashMap<>();
    Map<String, List<String>> dependents = new LinkedHashMap<>();
    List<String> good = new ArrayList<>();
    for (String output : outputs) {
      Set<String> involved = new java.util.LinkedHashSet<>();
      boolean ok = validateNode(prompt, output, validated, errorsByNode, involved);
      if (ok) {
        good.add(output);
      } else {
        for (String node : involved) {
          if (errorsByNode.containsKey(node)) {
            dependents.computeIfAbsent(node, k -> new ArrayList<>()).add(output);
          }
        }
      }
    }
    ObjectNode nodeErrors = json.createObjectNode();
    errorsByNode.forEach((node, errors) -> {
      if (errors.isEmpty()) {
        return;
      }
      ObjectNode entry = nodeErrors.putObject(node);
      ArrayNode list = entry.putArray("errors");
      errors.forEach(list::add);
      ArrayNode deps = entry.putArray("dependent_outputs");
      dependents.getOrDefault(node, List.of()).forEach(deps::add);
      entry.put("class_type", prompt.path(node).path("class_type").asText());
    });
    if (good.isEmpty()) {
      return new Outcome(
          error(
              "prompt_outputs_failed_validation",
              "Prompt outputs failed validation",
              describe(nodeErrors)),
          List.of(),
          nodeErrors);
    }
    return new Outcome(null, good, nodeErrors);
  }

  private boolean validateNode(
      ObjectNode prompt,
      String id,
      Map<String, Boolean> validated,
      Map<String, List<ObjectNode>> errorsByNode,
      Set<String> involved) {
    involved.add(id);
    Boolean known = validated.get(id);
    if (known != null) {
      return known;
    }
    validated.put(id, false); // a cycle finds it invalid while it is being checked
    JsonNode node = prompt.get(id);
    NodeLibrary.Spec spec = library.get(node.path("class_type").asText());
    JsonNode inputs = node.path("inputs");
    List<ObjectNode> errors = new ArrayList<>();
    boolean linkedOk = true;
    for (NodeLibrary.Input input : spec.required()) {
      JsonNode value = inputs.get(input.name());
      if (value == null || value.isNull()) {
        errors.add(
            inputError(
                "required_input_missing", "Required input is missing", input.name(), input, null));
        continue;
      }
      if (value.isArray()) {
        if (value.size() != 2 || !value.get(1).isIntegralNumber()) {
          errors.add(
              inputError(
                  "bad_linked_input",
                  "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                  input.name(),
                  input,
                  value));
          continue;
        }
        String source = value.get(0).asText();
        JsonNode sourceNode = prompt.get(source);
        if (sourceNode == null) {
          errors.add(
              inputError(
                  "bad_linked_input",
                  "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                  input.name(),
                  input,
                  value));
          continue;
        }
        NodeLibrary.Spec sourceSpec = library.get(sourceNode.path("class_type").asText());
        int slot = value.get(1).asInt();
        String received =
            slot >= 0 && slot < sourceSpec.outputTypes().size()
                ? sourceSpec.outputTypes().get(slot)
                : "*";
        String expected =
            input.literal()
                ? (input.type().equals("COMBO") ? "COMBO" : input.type())
                : input.type();
        if (!received.equals(expected)) {
          ObjectNode e =
              inputError(
                  "return_type_mismatch",
                  "Return type mismatch between linked nodes",
                  input.name()
                      + ", received_type("
                      + received
                      + ") mismatch input_type("
                      + expected
                      + ")",
                  input,
                  null);
          ((ObjectNode) e.get("extra_info"))
              .put("received_type", received)
              .set("linked_node", value);
          errors.add(e);
          continue;
        }
        if (!validateNode(prompt, source, validated, errorsByNode, involved)) {
          linkedOk = false;
        }
        continue;
      }
      if (!input.literal()) {
        errors.add(
            inputError(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                input.name()
                    + ", received_type("
                    + value.getNodeType()
                    + ") mismatch input_type("
                    + input.type()
                    + ")",
                input,
                value));
        continue;
      }
      ObjectNode problem = checkLiteral(spec, input, value);
      if (problem != null) {
        errors.add(problem);
      } else if (inputs instanceof ObjectNode writable) {
        writable.set(input.name(), converted(input, value));
      }
    }
    errorsByNode.put(id, errors);
    boolean ok = errors.isEmpty() && linkedOk;
    validated.put(id, ok);
    return ok;
  }

  /**
   * The value as ComfyUI's validation writes it back into the prompt ({@code inputs[x] = int(val)}
   * …): an INT truncated to an integer, a FLOAT a float, a STRING a string.
   */
  private JsonNode converted(NodeLibrary.Input input, JsonNode value) {
    return switch (input.type()) {
      case "INT" ->
          value.isIntegralNumber()
              ? value
              : json.getNodeFactory()
                  .numberNode(
                      (long)
                          (value.isNumber()
                              ? value.asDouble()
                              : Double.parseDouble(value.asText().trim())));
      case "FLOAT" ->
          json.getNodeFactory()
              .numberNode(
                  value.isNumber() ? value.asDouble() : Double.parseDouble(value.asText().trim()));
      case "STRING" ->
          value.isTextual() ? value : json.getNodeFactory().textNode(PyJson.str(value));
      default -> value;
    };
  }

  private ObjectNode checkLiteral(NodeLibrary.Spec spec, NodeLibrary.Input input, JsonNode value) {
    switch (input.type()) {
      case "INT", "FLOAT" -> {
        double number;
        if (value.isNumber()) {
          number = value.asDouble();
        } else if (value.isTextual()) {
          try {
            number = Double.parseDouble(value.asText().trim());
          } catch (NumberFormatException e) {
            return inputError(
                "invalid_input_type",
                "Failed to convert an input value to a " + input.type() + " value",
                input.name()
                    + ", "
                    + value.asText()
                    + ", invalid literal for "
                    + (input.type().equals("INT") ? "int()" : "float()")
                    + " with base 10: '"
                    + value.asText()
                    + "'",
                input,
                value);
          }
        } else {
          return inputError(
              "invalid_input_type",
              "Failed to convert an input value to a " + input.type() + " value",
              input.name() + ", " + value + ", not a number",
              input,
              value);
        }
        if (input.min() != null && number < input.min()) {
          return inputError(
              "value_smaller_than_min",
              "Value "
                  + format(number, input)
                  + " smaller than min of "
                  + format(input.min(), input),
              input.name(),
              input,
              value);
        }
        if (input.max() != null && number > input.max()) {
          return inputError(
              "value_bigger_than_max",
              "Value "
                  + format(number, input)
                  + " bigger than max of "
                  + format(input.max(), input),
              input.name(),
              input,
              value);
        }
        return null;
      }
      case "COMBO" -> {
        if (spec.classType().equals("LoadImage")) {
          String name = value.asText();
          Path file = inputDir.resolve(name).normalize();
          if (name.isBlank()
              || !file.startsWith(inputDir.normalize())
              || !Files.isRegularFile(file)) {
            return inputError(
                "custom_validation_failed",
                "Custom validation failed for node",
                input.name() + " - Invalid image file: " + name,
                input,
                value);
          }
          return null;
        }
        if (!input.options().contains(value.asText())) {
          return inputError(
              "value_not_in_list",
              "Value not in list",
              input.name() + ": '" + value.asText() + "' not in " + input.options(),
              input,
              value);
        }
        return null;
      }
      case "BOOLEAN" -> {
        return value.isBoolean()
            ? null
            : inputError(
                "invalid_input_type",
                "Failed to convert an input value to a BOOLEAN value",
                input.name() + ", " + value,
                input,
                value);
      }
      default -> {
        return value.isValueNode()
            ? null
            : inputError(
                "invalid_input_type",
                "Failed to convert an input value to a STRING value",
                input.name() + ", " + value,
                input,
                value);
      }
    }
  }

  private ObjectNode inputError(
      String type, String message, String details, NodeLibrary.Input input, JsonNode received) {
    ObjectNode error = json.createObjectNode();
    error.put("type", type);
    error.put("message", message);
    error.put("details", details);
    ObjectNode extra = error.putObject("extra_info");
    extra.put("input_name", input.name());
    extra.set(
        "input_config",
        input.describe(
            json, input.type().equals("COMBO") && input.options() == null ? inputFiles() : null));
    if (received != null) {
      extra.set("received_value", received);
    }
    return error;
  }

  /** LoadImage's choices: the input folder's files, sorted. */
  private List<String> inputFiles() {
    try (var files = Files.list(inputDir)) {
      return files
          .filter(Files::isRegularFile)
          .map(f -> f.getFileName().toString())
          .sorted()
          .toList();
    } catch (java.io.IOException e) {
      return List.of();
    }
  }

  private ObjectNode error(String type, String message, String details) {
    ObjectNode error = json.createObjectNode();
    error.put("type", type);
    error.put("message", message);
    error.put("details", details);
    error.putObject("extra_info");
    return error;
  }

  private static String describe(ObjectNode nodeErrors) {
    StringBuilder sb = new StringBuilder();
    nodeErrors
        .fields()
        .forEachRemaining(e ->
            e.getValue()
                .path("errors")
                .forEach(err -> {
                  if (!sb.isEmpty()) sb.append('\n');
                  sb.append(err.path("message").asText())
                      .append(": ")
                      .append(err.path("details").asText());
                }));
    return sb.toString();
  }

  private static String format(double value, NodeLibrary.Input input) {
    return input.type().equals("INT") ? Long.toString((long) value) : Double.toString(value);
  }
}
