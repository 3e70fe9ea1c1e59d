package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A finished prediction: its output values (full, diffs applied), or cancelled ({@code output:{}}
 * after {@code /cancel}, or a null completion on {@code /call}).
 */
public record GradioResult(
    List<JsonNode> data, boolean cancelled, String eventId, List<String> warnings) {

  public GradioResult {
    data = data == null ? List.of() : List.copyOf(data);
    warnings = warnings == null ? List.of() : List.copyOf(warnings);
  }

  public GradioResult(List<JsonNode> data, boolean cancelled, String eventId) {
    this(data, cancelled, eventId, List.of());
  }

  /** The same result with what the app told its user along the way (gr.Warning, gr.Info). */
  public GradioResult withWarnings(List<String> told) {
    return new GradioResult(data, cancelled, eventId, told);
  }

  /** Every FileData in the outputs, in order (galleries and nested values included). */
  public List<GradioFile> files() {
    List<GradioFile> files = new java.util.ArrayList<>();
    data.forEach(value -> GradioFiles.collect(value, files));
    return files;
  }
}
