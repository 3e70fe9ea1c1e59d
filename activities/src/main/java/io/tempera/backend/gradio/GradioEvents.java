package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.tempera.backend.BackendMessages;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.gradio.GradioException.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * What a prediction's events mean: queue messages ({@code estimation}, {@code process_starts},
 * {@code progress}, {@code process_completed}) and {@code /call} results as progress and results.
 * No I/O: the protocol reads the events, this translates them.
 */
final class GradioEvents {

  static final String NO_MESSAGE =
      "the Gradio app raised an error and did not show its message (the app can show it with show_error=True)";
  private static final long PREVIEW_EVERY_MILLIS = 250;

  private GradioEvents() {}

  /**
   * {@code estimation}: the job's place in the queue, and Gradio's estimate of the time until its
   * result ({@code rank_eta}: the wait and its run, null until the function has timings).
   */
  static BackendProgress estimation(JsonNode message) {
    int rank = message.path("rank").asInt(0);
    JsonNode eta = message.get("rank_eta");
    String text =
        "Waiting in the generator's queue (position "
            + (rank + 1)
            + (message.path("queue_size").isInt() ? " of " + message.get("queue_size").asInt() : "")
            + ")"
            + (eta != null && eta.isNumber()
                ? ", done in about " + Math.max(1, Math.round(eta.asDouble())) + " s"
                : "");
    return new BackendProgress(
        0,
        null,
        null,
        rank + 1,
        text,
        null,
        false,
        // Gradio's rank_eta counts from now to the job's result: its wait and its own run
        eta != null && eta.isNumber() ? Math.max(0, eta.asDouble()) : null,
        null);
  }

  /** {@code process_starts}, with the expected duration when the server knows it. */
  static BackendProgress processStarts(JsonNode message) {
    JsonNode eta = message.get("eta");
    boolean known = eta != null && eta.isNumber() && eta.asDouble() >= 0;
    return new BackendProgress(
        0,
        null,
        null,
        null,
        known ? "Starting (about " + Math.max(1, Math.round(eta.asDouble())) + " s)" : "Starting",
        null,
        false,
        known ? eta.asDouble() : null,
        null);
  }

  /**
   * A {@code log} message (gr.Info, gr.Warning, and in 6.x their titles): its text, and whether it
   * is something the person must be told in the result (a warning or info), null when it has none.
   * The app's author wrote it for the person: told as it is, within the bounds of {@link
   * BackendMessages#appMessage}.
   */
  static String logText(JsonNode message) {
    JsonNode log = message.get("log");
    if (log == null || !log.isTextual() || log.asText().isBlank()) {
      return null;
    }
    String text = BackendMessages.appMessage(unquoted(log.asText().strip()));
    return text.isBlank() ? null : text;
  }

  /**
   * A message as the app wrote it: Gradio 4.x sends a gr.Error's text as Python's repr of it
   * ({@code 'text'}, or {@code "it's"}); the quotes and escapes are taken off.
   */
  static String unquoted(String text) {
    if (text == null || text.length() < 2) {
      return text;
    }
    char first = text.charAt(0);
    char last = text.charAt(text.length() - 1);
    if ((first != '\'' && first != '"') || last != first) {
      return text;
    }
    String inner = text.substring(1, text.length() - 1);
    StringBuilder plain = new StringBuilder(inner.length());
    for (int i = 0; i < inner.length(); i++) {
      char c = inner.charAt(i);
      if (c == first) {
        return text; // an unescaped quote inside: not a repr, the app's own quotes
      }
      if (c == '\\' && i + 1 < inner.length()) {
        char next = inner.charAt(++i);
        switch (next) {
          case 'n' -> plain.append('\n');
          case 't' -> plain.append('\t');
          case '\\', '\'', '"' -> plain.append(next);
          default -> plain.append(c).append(next);
        }
      } else {
        plain.append(c);
      }
    }
    return plain.toString();
  }

  /**
   * {@code progress}: nested tqdm-like loops, outermost first, as one fraction and the outer step.
   */
  static BackendProgress progress(JsonNode data) {
    if (!data.isArray() || data.isEmpty()) {
      return new BackendProgress(0, null, null, null, "Generating", null);
    }
    double fraction = 0;
    double scale = 1;
    Integer step = null;
    Integer total = null;
    String desc = null;
    for (JsonNode entry : data) { // outermost first: each inner loop refines the one around it
      double part;
      Integer length = entry.path("length").isNumber() ? entry.get("length").asInt() : null;
      if (entry.path("index").isNumber() && length != null && length > 0) {
        part = entry.get("index").asDouble() / length;
        if (step == null) {
          step = entry.get("index").asInt();
          total = length;
        }
      } else if (entry.path("progress").isNumber()) {
        part = entry.get("progress").asDouble();
      } else {
        continue;
      }
      fraction += scale * Math.max(0, Math.min(1, part));
      scale = length != null && length > 0 ? scale / length : 0;
      if (desc == null && entry.path("desc").isTextual()) {
        desc = entry.get("desc").asText();
      }
    }
    String message =
        step != null
            ? (desc != null ? desc + ": " : "") + "step " + step + " of " + total
            : desc != null ? desc : "Generating";
    return new BackendProgress(Math.min(1, fraction), step, total, null, message, null);
  }

  /** {@code process_completed}: the outputs, cancelled ({@code output:{}}), or the app's error. */
  static GradioResult completed(JsonNode message, String eventId, String raw) {
    JsonNode output = message.path("output");
    if (!message.path("success").asBoolean(true)) {
      JsonNode error = output.get("error");
      throw new GradioException(
          Kind.EXECUTION,
          error != null && error.isTextual() && !error.asText().isBlank()
              ? unquoted(error.asText().strip())
              : NO_MESSAGE);
    }
    if (output.isObject() && !output.has("data")) {
      return new GradioResult(
          List.of(), true, eventId); // output:{} is what a cancelled job completes with
    }
    if (!output.path("data").isArray()) {
      throw new GradioException(
          Kind.PROTOCOL, "process_completed without output data: " + abbreviate(raw));
    }
    List<JsonNode> values = new ArrayList<>();
    output.get("data").forEach(values::add);
    return new GradioResult(values, false, eventId);
  }

  /**
   * A /call stream's {@code complete} event: the list of outputs, or null when the job was
   * cancelled.
   */
  static GradioResult callCompleted(JsonNode value, String eventId, String raw) {
    if (value == null || value.isNull()) {
      return new GradioResult(List.of(), true, eventId);
    }
    if (!value.isArray()) {
      throw new GradioException(
          Kind.PROTOCOL, "the /call result is not a list: " + abbreviate(raw));
    }
    List<JsonNode> values = new ArrayList<>();
    value.forEach(values::add);
    return new GradioResult(values, false, eventId);
  }

  /**
   * A /call stream's {@code error} event: the app's message (a string, or {"error"}) if it showed
   * one.
   */
  static GradioException callError(JsonNode value) {
    String message =
        value == null || value.isNull()
            ? null
            : value.isTextual()
                ? value.asText()
                : value.path("error").isTextual() ? value.get("error").asText() : null;
    return new GradioException(
        Kind.EXECUTION,
        message != null && !message.isBlank() ? unquoted(message.strip()) : NO_MESSAGE);
  }

  /** The intermediate outputs of a generator: full values first, then diffs applied to them. */
  static final class Outputs {
    private List<JsonNode> values;
    double fraction;
    private long previewAt;

    void update(ArrayNode data) {
      if (values == null) {
        values = new ArrayList<>();
        data.forEach(v -> values.add(v.deepCopy()));
        return;
      }
      if (data.size() != values.size()) {
        throw new GradioException(
            Kind.PROTOCOL,
            "a generator update has " + data.size() + " outputs, not " + values.size());
      }
      for (int i = 0; i < data.size(); i++) {
        values.set(i, Diffs.apply(values.get(i), data.get(i)));
      }
    }

    /**
     * The end of the last text among the intermediate outputs (a streamed answer as it grows), at
     * most 120 characters; null when there is none.
     */
    String latestText() {
      if (values == null) {
        return null;
      }
      for (int i = values.size() - 1; i >= 0; i--) {
        JsonNode value = values.get(i);
        if (value != null && value.isTextual() && !value.asText().isBlank()) {
          String text = value.asText().strip().replaceAll("\\s+", " ");
          return text.length() <= 120 ? text : "…" + text.substring(text.length() - 119);
        }
      }
      return null;
    }

    /** The bytes of the last file in the outputs, at most every 250 ms; null otherwise. */
    byte[] preview(Function<GradioFile, byte[]> bytesOf) {
      long now = System.currentTimeMillis();
      if (values == null || now - previewAt < PREVIEW_EVERY_MILLIS) {
        return null;
      }
      List<GradioFile> files = new ArrayList<>();
      values.forEach(v -> GradioFiles.collect(v, files));
      if (files.isEmpty()) {
        return null;
      }
      previewAt = now;
      return bytesOf.apply(files.get(files.size() - 1));
    }
  }
}
