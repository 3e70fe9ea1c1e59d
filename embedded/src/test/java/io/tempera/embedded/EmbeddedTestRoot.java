package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The folder an embedded-system test runs in: the shipped functions and models plus the test's own
 * function folders, outputs and the testkit ComfyUI's data, its API keys file with an operator key
 * (which acts for every project the tests use), and the properties that point there.
 */
final class EmbeddedTestRoot {

  /** The operator key made in each root's keys file, by root. */
  private static final Map<Path, String> KEYS = new ConcurrentHashMap<>();

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
      // before the application starts: with an active key in the file, no development key is made
      KEYS.put(
          root,
          new ApiKeyStore(keysFile(root))
              .create(Caller.Role.OPERATOR, null, "embedded tests")
              .secret());
      return root;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The root's API keys file (where the server reads its keys). */
  static Path keysFile(Path root) {
    return root.resolve("keys.json");
  }

  /** The operator key made in the root's keys file when the root was created. */
  static String key(Path root) {
    String key = KEYS.get(root);
    if (key == null) {
      throw new IllegalStateException("not a root made by EmbeddedTestRoot.create: " + root);
    }
    return key;
  }

  /** {@code builder} with the root's key as {@code Authorization: Bearer <key>}. */
  static HttpRequest.Builder authorized(Path root, HttpRequest.Builder builder) {
    return builder.header("Authorization", "Bearer " + key(root));
  }

  /** A request to the API with the root's key. */
  static HttpRequest.Builder request(Path root, URI uri) {
    return authorized(root, HttpRequest.newBuilder(uri));
  }

  /**
   * The id a generation of {@code projectId} started with {@code requestId} gets: {@code gen-<first
   * 10 hex digits of the SHA-256 of the projectId>-<requestId>}.
   */
  static String generationId(String projectId, String requestId) {
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(projectId.getBytes(StandardCharsets.UTF_8));
      return "gen-" + java.util.HexFormat.of().formatHex(digest).substring(0, 10) + "-" + requestId;
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The canvas socket's first message: {@code authenticate} with the root's key. */
  static String authenticateMessage(Path root) {
    try {
      return new ObjectMapper()
          .writeValueAsString(Map.of("type", "authenticate", "key", key(root)));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Authenticates a new canvas socket with the root's key and takes the server's {@code
   * authenticated} reply (an operator's) from {@code received}, the queue of its messages.
   */
  static void authenticate(Path root, WebSocket socket, BlockingQueue<JsonNode> received)
      throws Exception {
    socket.sendText(authenticateMessage(root), true).get(10, TimeUnit.SECONDS);
    JsonNode reply = received.poll(30, TimeUnit.SECONDS);
    assertThat(reply).as("the reply to authenticate").isNotNull();
    assertThat(reply.get("type").asText()).as(reply.toString()).isEqualTo("authenticated");
    assertThat(reply.get("role").asText()).isEqualTo("operator");
  }

  /** A test function of the activities module, by folder name. */
  static Path activitiesTemplate(String name) {
    return Path.of("../activities/src/test/resources/templates", name);
  }

  /**
   * A multipart upload of one file (form field {@code file}), as the canvas sends it, with the
   * root's key.
   */
  static HttpRequest multipart(
      Path root, URI uri, String filename, String contentType, byte[] content) {
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
    return request(root, uri)
        .header("content-type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
        .build();
  }

  /** Uploads the sample image as {@code sample.png} to {@code uploads}; the stored path. */
  static String uploadSample(Path root, HttpClient http, URI uploads, String contentType)
      throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(TestImages.sample(), "png", png);
    HttpResponse<String> response =
        http.send(
            multipart(root, uploads, "sample.png", contentType, png.toByteArray()),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
    return new ObjectMapper().readTree(response.body()).get("path").asText();
  }

  static void register(DynamicPropertyRegistry registry, Path root) {
    registry.add("tempera.output-root", () -> root.resolve("outputs").toString());
    registry.add("tempera.templates-dir", () -> root.resolve("templates").toString());
    registry.add("tempera.embedded.comfyui-data", () -> root.resolve("comfyui").toString());
    registry.add("tempera.security.keys-file", () -> keysFile(root).toString());
  }
}
