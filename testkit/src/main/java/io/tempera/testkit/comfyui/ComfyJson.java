package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/** The JSON shapes ComfyUI's routes and /ws events share. */
final class ComfyJson {

  final ObjectMapper mapper;

  ComfyJson(ObjectMapper mapper) {
    this.mapper = mapper;
  }

  ObjectNode object() {
    return mapper.createObjectNode();
  }

  ArrayNode array() {
    return mapper.createArrayNode();
  }

  JsonNode tree(Object value) {
    return mapper.valueToTree(value);
  }

  /** An event's data: the prompt id and a timestamp. */
  ObjectNode data(String promptId) {
    ObjectNode data = mapper.createObjectNode();
    data.put("prompt_id", promptId);
    data.put("timestamp", System.currentTimeMillis());
    return data;
  }

  /** A /ws message {@code {"type", "data"}}. */
  ObjectNode message(String type, ObjectNode data) {
    ObjectNode message = mapper.createObjectNode();
    message.put("type", type);
    message.set("data", data);
    return message;
  }

  /** A queue number as ComfyUI writes it: an integer when it is one. */
  JsonNode number(double number) {
    return number == Math.rint(number)
        ? mapper.getNodeFactory().numberNode((long) number)
        : mapper.getNodeFactory().numberNode(number);
  }

  /**
   * A prompt as /queue and /history list it: {@code [number, prompt_id, prompt, extra_data,
   * outputs]}.
   */
  ArrayNode queueItem(QueuedPrompt job) {
    ArrayNode item = mapper.createArrayNode();
    item.add(number(job.number()));
    item.add(job.promptId());
    item.add(job.prompt());
    item.add(job.extraData());
    item.add(mapper.valueToTree(job.outputs()));
    return item;
  }

  /** The text as JSON; an empty object when it is blank or not JSON. */
  JsonNode readOrEmpty(String text) {
    try {
      JsonNode node = text == null || text.isBlank() ? null : mapper.readTree(text);
      return node == null ? mapper.createObjectNode() : node;
    } catch (IOException e) {
      return mapper.createObjectNode();
    }
  }
}
