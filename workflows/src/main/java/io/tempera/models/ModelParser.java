package io.tempera.models;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.TemplateProblem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads one model registry entry ({@code models/<id>.json}), checking everything an operator can
 * get wrong. Never throws for bad content: it returns the problems, each with file, JSON path and
 * reason. Cross-entry checks (fallbacks) are {@link ModelCatalog}'s.
 */
public final class ModelParser {

  static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,63}");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  public static final Set<String> TOP_LEVEL =
      Set.of(
          "id",
          "backend",
          "description",
          "vram_mb",
          "fallback",
          "container",
          "architecture",
          "files");
  public static final Set<String> CONTAINER_KEYS =
      Set.of("image", "command", "env", "port", "health_path", "start_timeout_seconds");
  public static final Set<String> BACKENDS = Set.of("comfyui", "gradio");

  /** A model folder kind, as ComfyUI names its folders: checkpoints, upscale_models, loras, … */
  public static final Pattern FILE_KIND = Pattern.compile("[a-z0-9][a-z0-9_]{0,63}");

  /**
   * Where each backend's server listens inside its container, and what answers once it is ready.
   */
  static final Map<String, Integer> DEFAULT_PORTS = Map.of("comfyui", 8188, "gradio", 7860);

  static final Map<String, String> DEFAULT_HEALTH =
      Map.of("comfyui", "/system_stats", "gradio", "/config");
  static final int DEFAULT_START_TIMEOUT = 60;

  private final ObjectMapper json;

  public ModelParser(ObjectMapper json) {
    this.json = json;
  }

  /** A model entry, or the problems that kept it out. */
  public record Parsed(ModelSpec model, List<TemplateProblem> problems) {
    public boolean ok() {
      return model != null && problems.isEmpty();
    }
  }

  public Parsed parse(Path file) {
    String name = file.toString();
    List<TemplateProblem> problems = new ArrayList<>();
    JsonNode root;
    try {
      root = json.readTree(Files.readString(file));
    } catch (JsonProcessingException e) {
      return fail(name, problems, "$", "not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      return fail(name, problems, "$", "cannot be read: " + e.getMessage());
    }
    if (root == null || !root.isObject()) {
      return fail(name, problems, "$", "must be a JSON object");
    }
    root.fieldNames()
        .forEachRemaining(key -> {
          if (!TOP_LEVEL.contains(key) && !key.startsWith("$") && !key.startsWith("_")) {
            problems.add(
                new TemplateProblem(
                    name,
                    "$." + key,
                    "unknown key (allowed: "
                        + String.join(", ", TOP_LEVEL.stream().sorted().toList())
                        + ")"));
          }
        });
    String id = text(root, "id", "$.id", name, problems, true);
    if (id != null) {
      String expected = file.getFileName().toString().replaceFirst("\\.json$", "");
      if (!ID.matcher(id).matches()) {
        problems.add(
            new TemplateProblem(
                name,
                "$.id",
                "must be lowercase letters, digits, '-', '_' or '.' (at most 64), got '"
                    + id
                    + "'"));
      } else if (!id.equals(expected)) {
        problems.add(
            new TemplateProblem(
                name,
                "$.id",
                "must match the file name: '" + id + "' is in " + expected + ".json"));
      }
    }
    String backend = text(root, "backend", "$.backend", name, problems, true);
    if (backend != null && !BACKENDS.contains(backend)) {
      problems.add(
          new TemplateProblem(
              name,
              "$.backend",
              "must be one of " + BACKENDS.stream().sorted().toList() + ", got '" + backend + "'"));
      backend = null;
    }
    text(root, "description", "$.description", name, problems, false);
    Integer vram = whole(root, "vram_mb", "$.vram_mb", name, problems, 0, 1_048_576);
    String fallback = text(root, "fallback", "$.fallback", name, problems, false);
    if (fallback != null && id != null && fallback.equals(id)) {
      problems.add(new TemplateProblem(name, "$.fallback", "a model cannot fall back to itself"));
    }
    String architecture = text(root, "architecture", "$.architecture", name, problems, false);
    if (architecture != null && !ID.matcher(architecture).matches()) {
      problems.add(
          new TemplateProblem(
              name,
              "$.architecture",
              "must be a short lowercase name such as sd15, sdxl or esrgan, got '"
                  + architecture
                  + "'"));
    }
    Map<String, String> files = files(root.get("files"), name, problems);

    String image = null;
    List<String> command = List.of();
    Map<String, String> env = Map.of();
    int port = backend == null ? 0 : DEFAULT_PORTS.get(backend);
    String health = backend == null ? null : DEFAULT_HEALTH.get(backend);
    int startTimeout = DEFAULT_START_TIMEOUT;
    JsonNode container = root.get("container");
    if (container != null && !container.isNull()) {
      if (!container.isObject()) {
        problems.add(
            new TemplateProblem(
                name,
                "$.container",
                "must be an object {image, command, env, port, health_path, start_timeout_seconds}"));
      } else {
        container
            .fieldNames()
            .forEachRemaining(key -> {
              if (!CONTAINER_KEYS.contains(key)) {
                problems.add(
                    new TemplateProblem(
                        name,
                        "$.container." + key,
                        "unknown key (allowed: "
                            + String.join(", ", CONTAINER_KEYS.stream().sorted().toList())
                            + ")"));
              }
            });
        image = text(container, "image", "$.container.image", name, problems, true);
        if (image != null
            && (image.chars().anyMatch(Character::isWhitespace) || image.startsWith("-"))) {
          problems.add(
              new TemplateProblem(
                  name,
                  "$.container.image",
                  "must be an image reference such as 'studio/flux:1.0', got '" + image + "'"));
        }
        command = strings(container.get("command"), "$.container.command", name, problems);
        env = env(container.get("env"), name, problems);
        Integer p = whole(container, "port", "$.container.port", name, problems, 1, 65_535);
        if (p != null) {
          port = p;
        }
        String h = text(container, "health_path", "$.container.health_path", name, problems, false);
        if (h != null) {
          if (!h.startsWith("/")) {
            problems.add(
                new TemplateProblem(
                    name,
                    "$.container.health_path",
                    "must be a path starting with '/', got '" + h + "'"));
          }
          health = h;
        }
        Integer t =
            whole(
                container,
                "start_timeout_seconds",
                "$.container.start_timeout_seconds",
                name,
                problems,
                1,
                3_600);
        if (t != null) {
          startTimeout = t;
        }
      }
    }
    if (!problems.isEmpty()) {
      return new Parsed(null, List.copyOf(problems));
    }
    return new Parsed(
        new ModelSpec(
            id,
            backend,
            image,
            command,
            env,
            port,
            health,
            vram == null ? 0 : vram,
            startTimeout,
            fallback,
            architecture,
            files),
        List.of());
  }

  /** {kind: file name}: the model's files by the model folder they live in. */
  private static Map<String, String> files(
      JsonNode node, String file, List<TemplateProblem> problems) {
    Map<String, String> out = new LinkedHashMap<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (!node.isObject() || node.isEmpty()) {
      problems.add(
          new TemplateProblem(
              file,
              "$.files",
              "must be an object {model folder: file name}, e.g. {\"checkpoints\": \"sd15.safetensors\"}"));
      return out;
    }
    node.fields()
        .forEachRemaining(e -> {
          String path = "$.files." + e.getKey();
          if (!FILE_KIND.matcher(e.getKey()).matches()) {
            problems.add(
                new TemplateProblem(
                    file,
                    path,
                    "must be a model folder name such as checkpoints, upscale_models or loras"));
          } else if (!e.getValue().isTextual() || !validFileName(e.getValue().asText())) {
            problems.add(
                new TemplateProblem(
                    file,
                    path,
                    "must be the file's name inside that folder, as the server lists it (subfolders with '/', no '..'), got "
                        + e.getValue()));
          } else {
            out.put(e.getKey(), e.getValue().asText());
          }
        });
    return out;
  }

  /**
   * A name relative to its model folder, as the server's loader lists it: not absolute, no '..' or
   * empty segments, no control characters. Subfolders are separated by '/' (or '\', as a ComfyUI on
   * Windows lists them).
   */
  static boolean validFileName(String name) {
    if (name.isBlank() || name.length() > 255 || name.startsWith("/") || name.startsWith("\\")) {
      return false;
    }
    if (name.chars().anyMatch(c -> c < 0x20) || name.matches("[A-Za-z]:.*")) {
      return false;
    }
    for (String segment : name.split("[/\\\\]", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return false;
      }
    }
    return true;
  }

  private static Parsed fail(
      String file, List<TemplateProblem> problems, String path, String reason) {
    problems.add(new TemplateProblem(file, path, reason));
    return new Parsed(null, List.copyOf(problems));
  }

  private static String text(
      JsonNode node,
      String key,
      String path,
      String file,
      List<TemplateProblem> problems,
      boolean required) {
    JsonNode value = node.get(key);
    if (value == null || value.isNull()) {
      if (required) {
        problems.add(new TemplateProblem(file, path, "required"));
      }
      return null;
    }
    if (!value.isTextual() || value.asText().isBlank()) {
      problems.add(new TemplateProblem(file, path, "must be a non-empty string"));
      return null;
    }
    return value.asText();
  }

  private static Integer whole(
      JsonNode node,
      String key,
      String path,
      String file,
      List<TemplateProblem> problems,
      int min,
      int max) {
    JsonNode value = node.get(key);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isIntegralNumber() || value.asLong() < min || value.asLong() > max) {
      problems.add(
          new TemplateProblem(file, path, "must be a whole number from " + min + " to " + max));
      return null;
    }
    return value.asInt();
  }

  private static List<String> strings(
      JsonNode node, String path, String file, List<TemplateProblem> problems) {
    if (node == null || node.isNull()) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    if (!node.isArray() || node.isEmpty()) {
      problems.add(
          new TemplateProblem(
              file,
              path,
              "must be a non-empty list of strings (leave it out to use the image's command)"));
      return out;
    }
    for (JsonNode arg : node) {
      if (!arg.isTextual()) {
        problems.add(new TemplateProblem(file, path, "every element must be a string"));
        return List.of();
      }
      out.add(arg.asText());
    }
    return out;
  }

  private static Map<String, String> env(
      JsonNode node, String file, List<TemplateProblem> problems) {
    Map<String, String> out = new LinkedHashMap<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (!node.isObject()) {
      problems.add(new TemplateProblem(file, "$.container.env", "must be an object {NAME: value}"));
      return out;
    }
    node.fields()
        .forEachRemaining(e -> {
          if (!ENV_NAME.matcher(e.getKey()).matches()) {
            problems.add(
                new TemplateProblem(
                    file,
                    "$.container.env." + e.getKey(),
                    "is not a valid environment variable name"));
          } else if (!e.getValue().isValueNode() || e.getValue().isNull()) {
            problems.add(
                new TemplateProblem(
                    file, "$.container.env." + e.getKey(), "must be a string, number or boolean"));
          } else {
            out.put(e.getKey(), e.getValue().asText());
          }
        });
    return out;
  }
}
