package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The folder an embedded-system test runs in: the shipped functions and models plus the test's own
 * function folders, outputs and the testkit ComfyUI's data, and the properties that point there.
 */
final class EmbeddedTestRoot {

  private EmbeddedTestRoot() {}

  /**
   * A new root with the shipped templates and each of {@code functions} (folders) copied in by
   * name.
   */
  static Path create(String prefix, Path... functions) {
    try {
      Path root = Files.createTempDirectory(prefix);
      TestFiles.copyShippedTemplates(root.resolve("templates"));
      for (Path function : functions) {
        TestFiles.copyTree(
            function, root.resolve("templates").resolve(function.getFileName().toString()));
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

  /** A multipart upload of one file (form field {@code file}), as the canvas sends it. */
  static HttpRequest multipart(URI uri, String filename, String contentType, byte[] content) {
    String boundary = "tempera" + UUID.randomUUID();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.writeBytes(
        ("--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                + filename
                + "\"\r\nContent-Type: "
                + contentType
                + "\r\n\r\n")
            .getBytes(StandardCharsets.UTF_8));
    body.writeBytes(content);
    body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
    return HttpRequest.newBuilder(uri)
        .header("content-type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
        .build();
  }

  /** Uploads the sample image as {@code sample.png} to {@code uploads}; the stored path. */
  static String uploadSample(HttpClient http, URI uploads, String contentType) throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(TestImages.sample(), "png", png);
    HttpResponse<String> response =
        http.send(
            multipart(uploads, "sample.png", contentType, png.toByteArray()),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
    return new ObjectMapper().readTree(response.body()).get("path").asText();
  }

  static void register(DynamicPropertyRegistry registry, Path root) {
    registry.add("tempera.output-root", () -> root.resolve("outputs").toString());
    registry.add("tempera.templates-dir", () -> root.resolve("templates").toString());
    registry.add("tempera.embedded.comfyui-data", () -> root.resolve("comfyui").toString());
  }
}
