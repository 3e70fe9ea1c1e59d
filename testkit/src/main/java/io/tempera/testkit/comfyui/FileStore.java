package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * ComfyUI's three folders under the data dir: input (uploads), output and temp (what nodes write).
 */
final class FileStore {

  static final long MAX_UPLOAD = 100L * 1024 * 1024;

  final Path inputDir;
  final Path outputDir;
  final Path tempDir;
  private final ComfyJson json;

  FileStore(Path dataDir, ComfyJson json) {
    Path data = dataDir.toAbsolutePath().normalize();
    this.inputDir = data.resolve("input");
    this.outputDir = data.resolve("output");
    this.tempDir = data.resolve("temp");
    this.json = json;
    try {
      Files.createDirectories(inputDir);
      Files.createDirectories(outputDir);
      Files.createDirectories(tempDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the data folders under " + data, e);
    }
  }

  /** The folder of a /view {@code type}: input, temp, else output. */
  Path viewFolder(String type) {
    return switch (type) {
      case "input" -> inputDir;
      case "temp" -> tempDir;
      default -> outputDir;
    };
  }

  /** The files in the input folder, sorted (LoadImage's choices). */
  List<String> inputFiles() {
    try (var files = Files.list(inputDir)) {
      return files
          .filter(Files::isRegularFile)
          .map(p -> p.getFileName().toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  /**
   * As ComfyUI's {@code image_upload}: without {@code overwrite} an upload whose name is taken by
   * other content gets {@code name (1).ext}, and one identical to the stored file is not written
   * again (a prompt may be reading it). ComfyUI handles uploads one at a time on its event loop; so
   * does this server.
   */
  synchronized ObjectNode storeUpload(byte[] bytes, String filename, Map<String, String> fields)
      throws IOException {
    String type = fields.getOrDefault("type", "input");
    Path base =
        switch (type) {
          case "temp" -> tempDir;
          case "output" -> outputDir;
          default -> inputDir;
        };
    String subfolder = fields.getOrDefault("subfolder", "");
    Path folder = base.resolve(subfolder).normalize();
    String name = Path.of(filename).getFileName().toString();
    if (!folder.startsWith(base) || name.startsWith(".")) {
      throw new IllegalArgumentException("bad upload path");
    }
    Files.createDirectories(folder);
    boolean overwrite =
        "true".equals(fields.get("overwrite")) || "1".equals(fields.get("overwrite"));
    Path target = folder.resolve(name);
    boolean duplicate = false;
    if (!overwrite) {
      String stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
      String ext = name.contains(".") ? name.substring(name.lastIndexOf('.')) : "";
      int i = 1;
      while (Files.exists(target)) {
        if (Arrays.equals(Files.readAllBytes(target), bytes)) {
          duplicate = true;
          break;
        }
        target = folder.resolve(stem + " (" + i++ + ")" + ext);
      }
    }
    if (!duplicate) {
      Files.write(target, bytes);
    }
    ObjectNode reply = json.object();
    reply.put("name", target.getFileName().toString());
    reply.put("subfolder", subfolder);
    reply.put("type", type);
    return reply;
  }
}
