package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Reads a finished /history entry: its status, its error and its output files. */
final class HistoryParser {

  private HistoryParser() {}

  static PromptResult parse(String promptId, JsonNode entry) {
    JsonNode status = entry.path("status");
    boolean success =
        "success".equals(status.path("status_str").asText())
            && status.path("completed").asBoolean(false);
    ExecutionError error = null;
    boolean interrupted = false;
    for (JsonNode message : status.path("messages")) {
      String type = message.path(0).asText();
      JsonNode data = message.path(1);
      if (type.equals("execution_error")) {
        error = executionError(data);
      } else if (type.equals("execution_interrupted")) {
        interrupted = true;
      }
    }
    PromptResult.Status outcome =
        success
            ? PromptResult.Status.SUCCESS
            : interrupted ? PromptResult.Status.INTERRUPTED : PromptResult.Status.ERROR;
    if (outcome == PromptResult.Status.ERROR && error == null) {
      error =
          new ExecutionError(
              null,
              null,
              null,
              "ComfyUI reported status '"
                  + status.path("status_str").asText("unknown")
                  + "' without an error",
              List.of());
    }
    return new PromptResult(promptId, outcome, outputs(entry.path("outputs")), error, true);
  }

  static ExecutionError executionError(JsonNode data) {
    List<String> traceback = new ArrayList<>();
    data.path("traceback").forEach(line -> traceback.add(line.asText()));
    return new ExecutionError(
        data.path("node_id").asText(null),
        data.path("node_type").asText(null),
        data.path("exception_type").asText(null),
        data.path("exception_message").asText(null),
        traceback);
  }

  /** Every {filename, subfolder, type} under every node's output keys (images, audio, gifs, …). */
  static List<OutputFile> outputs(JsonNode outputs) {
    List<OutputFile> files = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> nodes = outputs.fields(); nodes.hasNext(); ) {
      Map.Entry<String, JsonNode> node = nodes.next();
      for (Iterator<Map.Entry<String, JsonNode>> kinds = node.getValue().fields();
          kinds.hasNext(); ) {
        Map.Entry<String, JsonNode> kind = kinds.next();
        for (JsonNode file : kind.getValue()) {
          if (file.isObject() && file.path("filename").isTextual()) {
            files.add(
                new OutputFile(
                    node.getKey(),
                    kind.getKey(),
                    file.get("filename").asText(),
                    file.path("subfolder").asText(""),
                    file.path("type").asText("output")));
          }
        }
      }
    }
    return files;
  }
}
