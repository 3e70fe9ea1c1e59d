package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * A prompt accepted into the queue: its queue number, id, graph, extra data (with the submitting
 * {@code client_id}, if any) and the output nodes it runs.
 */
record QueuedPrompt(
    double number, String promptId, ObjectNode prompt, ObjectNode extraData, List<String> outputs) {

  /** The /ws client that submitted it; null when none was given. */
  String clientId() {
    return extraData.path("client_id").asText(null);
  }
}
