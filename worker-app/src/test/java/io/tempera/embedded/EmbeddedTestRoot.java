package io.tempera.embedded;

import io.tempera.testkit.fixtures.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The folder an embedded-system test runs in: the shipped functions and models plus the test's own
 * function folders, outputs and the testkit ComfyUI's data, and the properties that point there.
 */
final class EmbeddedTestRoot {

  private EmbeddedTestRoot() {}

  /** A new root with the shipped templates and each of {@code functions} (folders) copied in by name. */
  static Path create(String prefix, Path... functions) {
    try {
      Path root = Files.createTempDirectory(prefix);
      TestFiles.copyShippedTemplates(root.resolve("templates"));
      for (Path function : functions) {
        TestFiles.copyTree(function, root.resolve("templates").resolve(function.getFileName().toString()));
      }
      return root;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A test function of the activities module, by folder name. */
  static Path activitiesTemplate(String name) {
    return Path.of("../activities/src/test/resources/templates", name);
  }

  static void register(DynamicPropertyRegistry registry, Path root) {
    registry.add("tempera.output-root", () -> root.resolve("outputs").toString());
    registry.add("tempera.templates-dir", () -> root.resolve("templates").toString());
    registry.add("tempera.embedded.comfyui-data", () -> root.resolve("comfyui").toString());
  }
}
