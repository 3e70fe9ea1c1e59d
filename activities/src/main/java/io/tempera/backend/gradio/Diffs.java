package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.tempera.backend.gradio.GradioException.Kind;

/**
 * Gradio's generator diffs: after the first full value, each update of an output is a list of edits
 * {@code [op, path, value]} with op {@code replace}, {@code append}, {@code add} or {@code delete}
 * and path a list of object keys and list indices (as Gradio's JavaScript client applies them).
 */
final class Diffs {

  private Diffs() {}

  static JsonNode apply(JsonNode current, JsonNode edits) {
    if (!edits.isArray()) {
      throw new GradioException(
          Kind.PROTOCOL, "a generator update is not a list of edits: " + edits);
    }
    JsonNode value = current == null ? null : current.deepCopy();
    for (JsonNode edit : edits) {
      if (!edit.isArray()
          || edit.size() < 2
          || !edit.get(0).isTextual()
          || !edit.get(1).isArray()) {
        throw new GradioException(Kind.PROTOCOL, "a malformed generator edit: " + edit);
      }
      value = applyOne(value, edit.get(0).asText(), (ArrayNode) edit.get(1), edit.get(2));
    }
    return value;
  }

  private static JsonNode applyOne(JsonNode target, String op, ArrayNode path, JsonNode value) {
    if (path.isEmpty()) {
      return switch (op) {
        case "replace" -> value;
        case "append" -> append(target, value);
        default -> throw new GradioException(Kind.PROTOCOL, "edit '" + op + "' needs a path");
      };
    }
    JsonNode parent = target;
    for (int i = 0; i < path.size() - 1; i++) {
      parent = child(parent, path.get(i));
    }
    JsonNode last = path.get(path.size() - 1);
    if (parent instanceof ObjectNode object) {
      String key = last.asText();
      switch (op) {
        case "replace", "add" -> object.set(key, value);
        case "append" -> object.set(key, append(object.get(key), value));
        case "delete" -> object.remove(key);
        default -> throw new GradioException(Kind.PROTOCOL, "unknown generator edit '" + op + "'");
      }
    } else if (parent instanceof ArrayNode array) {
      int index = last.asInt(-1);
      if (index < 0 || index > array.size() || (index == array.size() && !op.equals("add"))) {
        throw new GradioException(
            Kind.PROTOCOL, "a generator edit points past the end of a list: " + path);
      }
      switch (op) {
        case "replace" -> array.set(index, value);
        case "append" -> array.set(index, append(array.get(index), value));
        case "add" -> array.insert(index, value);
        case "delete" -> array.remove(index);
        default -> throw new GradioException(Kind.PROTOCOL, "unknown generator edit '" + op + "'");
      }
    } else {
      throw new GradioException(
          Kind.PROTOCOL, "a generator edit points into a plain value: " + path);
    }
    return target;
  }

  private static JsonNode child(JsonNode parent, JsonNode key) {
    JsonNode next =
        parent == null
            ? null
            : parent.isArray() ? parent.get(key.asInt(-1)) : parent.get(key.asText());
    if (next == null || !(next.isContainerNode())) {
      throw new GradioException(
          Kind.PROTOCOL, "a generator edit names a path that is not there: " + key);
    }
    return next;
  }

  private static JsonNode append(JsonNode target, JsonNode value) {
    if (target instanceof ArrayNode array) {
      if (value != null && value.isArray()) {
        array.addAll((ArrayNode) value);
      } else {
        array.add(value);
      }
      return array;
    }
    if (target == null || target.isNull()) {
      return value;
    }
    if (target.isTextual()) {
      return new TextNode(
          target.asText() + (value == null || value.isNull() ? "" : value.asText()));
    }
    throw new GradioException(Kind.PROTOCOL, "cannot append to " + target.getNodeType());
  }
}
