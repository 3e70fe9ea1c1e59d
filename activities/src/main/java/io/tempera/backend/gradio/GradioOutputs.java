package io.tempera.backend.gradio;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendHttp;
import io.tempera.backend.BackendMessages;
import io.tempera.generation.BackendFile;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.OutputValue;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a Gradio endpoint's reply holds, output by output: files (images, video, audio, gallery
 * items, file lists) to collect, and values (text, numbers, JSON, a label's confidences,
 * highlighted text) that become part of the generation's result. Values larger than {@link
 * #INLINE_LIMIT} are spooled to a local file and collected as a file instead (a generation's state
 * stays small).
 */
final class GradioOutputs {

  /** The {@link BackendFile#type()} of a value spooled on this worker. */
  static final String SPOOLED = "tempera-spooled-value";

  /** The largest value (as JSON) kept in the generation's state. */
  static final int INLINE_LIMIT = 64 * 1024;

  private static final Path SPOOL =
      Path.of(System.getProperty("java.io.tmpdir"), "tempera-gradio-values");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> FILE_COMPONENTS =
      Set.of(
          "image",
          "video",
          "audio",
          "file",
          "files",
          "gallery",
          "model3d",
          "uploadbutton",
          "annotatedimage",
          "imageeditor",
          "simpleimage",
          "imageslider");

  private GradioOutputs() {}

  /**
   * The outputs read.
   *
   * @param missing the template's required outputs the app did not return, each as "name (from)"
   */
  record Read(List<BackendFile> files, List<OutputValue> values, List<String> missing) {}

  /** A template's promise: its name for an output, where it comes from, whether it must come. */
  private record Promise(String name, JsonNode from, boolean required) {}

  /**
   * Reads a reply's outputs.
   *
   * @param declared the template's {@code outputs} ({@code [{name, from, required}]}), missing or
   *     empty when it declares none
   * @param origin the app's name, for collecting its files later
   */
  static Read read(
      GradioApi.Endpoint fn, List<JsonNode> data, JsonNode declared, String origin, String runId) {
    List<GradioApi.Output> outputs = fn.outputs();
    Map<Integer, Promise> promised = new HashMap<>();
    List<String> missing = new ArrayList<>();
    Map<Promise, Integer> positions = new LinkedHashMap<>();
    if (declared != null && declared.isArray()) {
      for (JsonNode d : declared) {
        Promise promise =
            new Promise(d.path("name").asText(), d.get("from"), d.path("required").asBoolean(true));
        int at = position(outputs, data.size(), promise.from());
        positions.put(promise, at);
        if (at >= 0) {
          promised.put(at, promise);
        }
      }
    }
    List<BackendFile> files = new ArrayList<>();
    List<OutputValue> values = new ArrayList<>();
    Set<Integer> present = new HashSet<>();
    Set<String> names = new HashSet<>();
    int shown = -1; // the output's position as the API shows it (State skipped)
    for (int i = 0; i < data.size(); i++) {
      GradioApi.Output output = i < outputs.size() ? outputs.get(i) : null;
      if (i < outputs.size() && output == null) {
        continue; // State: not part of the API
      }
      shown++;
      JsonNode value = data.get(i);
      if (absent(value)) {
        continue;
      }
      Promise promise = promised.get(i);
      String name = unique(promise != null ? promise.name() : defaultName(output, shown), names);
      List<GradioFile> found = new ArrayList<>();
      GradioFiles.collect(value, found);
      if (!found.isEmpty()) {
        found.forEach(f ->
            files.add(new BackendFile(fn.apiName(), name, f.name(), f.path(), f.url(), origin)));
        present.add(i);
        continue;
      }
      if (output != null && FILE_COMPONENTS.contains(output.component())) {
        continue; // a file output without a file: nothing came
      }
      if (promise != null && empty(value)) {
        continue; // a promised output left empty counts as not returned
      }
      present.add(i);
      String kind = kind(output, value);
      String text = kind.equals("text") && value.isTextual() ? value.asText() : null;
      byte[] bytes = bytes(text, value);
      if (bytes.length > INLINE_LIMIT) {
        files.add(spool(fn.apiName(), name, text != null ? ".txt" : ".json", bytes, origin, runId));
      } else {
        values.add(new OutputValue(name, kind, value));
      }
    }
    positions.forEach((promise, at) -> {
      if (promise.required() && (at < 0 || !present.contains(at))) {
        missing.add(
            "'"
                + promise.name()
                + "'"
                + (at < 0
                    ? " (it has no output " + describe(promise.from()) + ")"
                    : " (its output " + describe(promise.from()) + ")"));
      }
    });
    return new Read(List.copyOf(files), List.copyOf(values), List.copyOf(missing));
  }

  /** Where a promised output is in the reply: by position, or by the label the app gives it. */
  private static int position(List<GradioApi.Output> outputs, int size, JsonNode from) {
    if (from == null) {
      return -1;
    }
    List<Integer> visible = new ArrayList<>(); // the API's positions skip State
    for (int i = 0; i < Math.max(size, outputs.size()); i++) {
      if (i >= outputs.size() || outputs.get(i) != null) {
        visible.add(i);
      }
    }
    if (from.isIntegralNumber()) {
      int at = from.asInt();
      return at < visible.size() ? visible.get(at) : -1;
    }
    String label = from.asText();
    for (int i = 0; i < outputs.size(); i++) {
      GradioApi.Output output = outputs.get(i);
      if (output != null && output.label() != null && output.label().equalsIgnoreCase(label)) {
        return i;
      }
    }
    for (int i = 0; i < visible.size(); i++) {
      if (label.equalsIgnoreCase("output_" + i)) {
        return visible.get(i);
      }
    }
    return -1;
  }

  private static String describe(JsonNode from) {
    return from == null
        ? ""
        : from.isIntegralNumber() ? "#" + from.asInt() : "'" + from.asText() + "'";
  }

  /** The app's label for an output made a name ("Caption" → "caption"), else output_<i>. */
  static String defaultName(GradioApi.Output output, int position) {
    if (output != null && output.label() != null) {
      String name =
          output
              .label()
              .strip()
              .toLowerCase(Locale.ROOT)
              .replaceAll("[^a-z0-9_-]+", "_")
              .replaceAll("^_+|_+$", "");
      if (!name.isEmpty()) {
        return name.length() > 64 ? name.substring(0, 64) : name;
      }
    }
    return "output_" + position;
  }

  private static String unique(String name, Set<String> taken) {
    String candidate = name;
    for (int n = 2; !taken.add(candidate); n++) {
      candidate = name + "_" + n;
    }
    return candidate;
  }

  /** Null, or a component update without a value ({@code {"__type__": "update"}}). */
  private static boolean absent(JsonNode value) {
    return value == null
        || value.isNull()
        || value.isMissingNode()
        || (value.isObject()
            && "update".equals(value.path("__type__").asText(null))
            && (!value.has("value") || value.get("value").isNull()));
  }

  private static boolean empty(JsonNode value) {
    return (value.isTextual() && value.asText().isBlank())
        || (value.isContainerNode() && value.isEmpty());
  }

  /** The value's kind: from the component that shows it, else from its JSON type. */
  static String kind(GradioApi.Output output, JsonNode value) {
    if (output != null && output.component() != null && !output.component().isEmpty()) {
      return output.valueKind();
    }
    if (value.isTextual()) {
      return "text";
    }
    if (value.isNumber()) {
      return "number";
    }
    if (value.isBoolean()) {
      return "boolean";
    }
    return "json";
  }

  private static byte[] bytes(String text, JsonNode value) {
    if (text != null) {
      return text.getBytes(StandardCharsets.UTF_8);
    }
    try {
      return JSON.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }

  private static BackendFile spool(
      String producer, String name, String extension, byte[] bytes, String origin, String runId) {
    try {
      Path dir = Files.createDirectories(SPOOL.resolve(safe(runId)));
      Path file = dir.resolve(name + extension);
      Files.write(file, bytes);
      return new BackendFile(producer, name, name + extension, file.toString(), SPOOLED, origin);
    } catch (IOException e) {
      throw BackendMessages.failure(
          "A large output of the Gradio app could not be kept on this worker",
          ErrorCode.OUTPUT_MISSING,
          false,
          "Gradio (" + origin + ")",
          e.toString());
    }
  }

  /** Moves a spooled value to where the output is stored; the bytes moved. */
  static long moveSpooled(BackendFile file, Path target) {
    Path source = Path.of(file.subfolder()).toAbsolutePath().normalize();
    if (!source.startsWith(SPOOL.toAbsolutePath().normalize()) || !Files.isRegularFile(source)) {
      throw ApplicationFailure.newFailure(
          "The output '" + file.kind() + "' is no longer on this worker",
          ErrorCode.OUTPUT_MISSING.name());
    }
    try (InputStream in = Files.newInputStream(source)) {
      long bytes = BackendHttp.save(in, target, written -> {});
      Files.deleteIfExists(source);
      return bytes;
    } catch (IOException e) {
      throw BackendMessages.failure(
          "The output '" + file.kind() + "' could not be stored",
          ErrorCode.OUTPUT_MISSING,
          false,
          "Gradio (" + file.origin() + ")",
          e.toString());
    }
  }

  private static String safe(String text) {
    return text.replaceAll("[^A-Za-z0-9_.-]", "_");
  }
}
