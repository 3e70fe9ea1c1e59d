package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.fixtures.PixelBomb;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Hostile files against the running embedded system (#16): pixel bombs at upload and in the worker,
 * symbolic links planted in a project (served, sent to the backend, written through), and uploads
 * larger than the limit refused before they are read in full. After each, a normal generation still
 * succeeds.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.max-upload-bytes=2000000"
    })
class HostileFilesEndToEndTest {

  static final Path ROOT = EmbeddedTestRoot.create("tempera-hostile");
  static final ObjectMapper JSON = new ObjectMapper();
  static final long MAX_UPLOAD = 2_000_000;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  static Path project(String projectId) {
    return ROOT.resolve("outputs").resolve(projectId);
  }

  /** A file outside the output root that a planted link points at. */
  static Path secret() throws IOException {
    Path secret = ROOT.resolve("secret.txt");
    Files.writeString(secret, "the secret content of a system file");
    return secret;
  }

  @Test
  void aPixelBombUploadIsRefusedFromItsHeaderWithItsOwnCode() throws Exception {
    byte[] bomb = PixelBomb.png(20000, 20000);
    assertThat(bomb.length).isLessThan(1_000_000);
    HttpResponse<String> refused =
        http.send(
            EmbeddedTestRoot.multipart(
                ROOT, uri("/api/projects/bombs/uploads"), "bomb.png", "image/png", bomb),
            HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(422);
    JsonNode error = JSON.readTree(refused.body());
    assertThat(error.get("code").asText()).isEqualTo("IMAGE_TOO_LARGE");
    assertThat(error.get("message").asText())
        .startsWith("The image bomb.png is 20000 × 20000 pixels (400 megapixels); the limit is")
        .contains("16384 pixels a side", "50 megapixels in all");
    try (var stored = Files.list(project("bombs").resolve("uploads"))) {
      assertThat(stored).as("nothing is kept of a refused upload").isEmpty();
    }

    // a header that says PNG and gives no size is no image
    byte[] headerOnly = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
    HttpResponse<String> unreadable =
        http.send(
            EmbeddedTestRoot.multipart(
                ROOT, uri("/api/projects/bombs/uploads"), "x.png", "image/png", headerOnly),
            HttpResponse.BodyHandlers.ofString());
    assertThat(unreadable.statusCode()).isEqualTo(415);
    assertThat(JSON.readTree(unreadable.body()).get("code").asText()).isEqualTo("UNSUPPORTED_FILE");

    // a whole PNG with an HTML page behind it (a polyglot) is no image either: nothing is kept
    java.io.ByteArrayOutputStream polyglot = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(io.tempera.testkit.fixtures.TestImages.sample(), "png", polyglot);
    polyglot.writeBytes(
        "<html><script>alert(1)</script></html>".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    HttpResponse<String> mixed =
        http.send(
            EmbeddedTestRoot.multipart(
                ROOT,
                uri("/api/projects/bombs/uploads"),
                "page.png",
                "image/png",
                polyglot.toByteArray()),
            HttpResponse.BodyHandlers.ofString());
    assertThat(mixed.statusCode()).as(mixed.body()).isEqualTo(415);
    assertThat(JSON.readTree(mixed.body()).get("message").asText())
        .contains("not a whole image", "follows");
    try (var stored = Files.list(project("bombs").resolve("uploads"))) {
      assertThat(stored).isEmpty();
    }

    assertANormalGenerationSucceeds("bombs");
  }

  @Test
  void aPixelBombPlacedInTheProjectFailsInTheWorkerBeforeTheBackendGetsIt() throws Exception {
    PixelBomb.write(project("planted").resolve("uploads/bomb.png"), 20000, 20000);
    HttpResponse<String> started = startInvert("planted", "uploads/bomb.png");
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    JsonNode failed = awaitEnd(JSON.readTree(started.body()).get("id").asText());
    assertThat(failed.get("status").asText()).isEqualTo("FAILED");
    assertThat(failed.at("/error/code").asText()).isEqualTo("INVALID_REQUEST");
    assertThat(failed.at("/error/message").asText())
        .contains("The image bomb.png is 20000 × 20000 pixels", "the limit is 16384 pixels a side");

    assertANormalGenerationSucceeds("planted");
  }

  @Test
  void anOutputOrPreviewReplacedByALinkIsNotServed() throws Exception {
    Path secret = secret();
    String id = assertANormalGenerationSucceeds("linked-output");
    JsonNode view = JSON.readTree(get("/api/generations/" + id).body());
    JsonNode output = view.get("outputs").get(0);
    Path stored =
        project("linked-output").resolve("outputs/renders/node-1/" + output.get("name").asText());
    assertThat(stored).exists();
    HttpResponse<byte[]> served200 =
        http.send(
            HttpRequest.newBuilder(uri(output.get("url").asText())).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(served200.statusCode()).isEqualTo(200);
    assertThat(served200.body()).isEqualTo(Files.readAllBytes(stored));
    HttpResponse<byte[]> range =
        http.send(
            HttpRequest.newBuilder(uri(output.get("url").asText()))
                .header("Range", "bytes=1-3")
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(range.statusCode()).isEqualTo(206);
    assertThat(new String(range.body(), StandardCharsets.US_ASCII)).isEqualTo("PNG");
    Files.delete(stored);
    Files.createSymbolicLink(stored, secret);

    HttpResponse<String> served = get(output.get("url").asText());
    assertThat(served.statusCode()).isEqualTo(404);
    assertThat(served.body()).doesNotContain("secret");
    assertThat(JSON.readTree(served.body()).get("code").asText()).isEqualTo("NOT_FOUND");

    Path preview = project("linked-output").resolve("outputs/previews/" + id + ".preview");
    Files.createDirectories(preview.getParent());
    Files.deleteIfExists(preview);
    Files.createSymbolicLink(preview, secret);
    HttpResponse<String> previewed = get("/api/generations/" + id + "/preview");
    assertThat(previewed.statusCode()).isEqualTo(404);
    assertThat(previewed.body()).doesNotContain("secret");
  }

  @Test
  void aLinkInUploadsIsNoImageParameter() throws Exception {
    Path outside = ROOT.resolve("outside.png");
    Files.write(outside, PixelBomb.png(8, 8));
    Path uploads = project("linked-upload").resolve("uploads");
    Files.createDirectories(uploads);
    Files.createSymbolicLink(uploads.resolve("link.png"), outside);

    HttpResponse<String> refused = startInvert("linked-upload", "uploads/link.png");
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(422);
    assertThat(JSON.readTree(refused.body()).at("/problems/0/code").asText())
        .isEqualTo("FILE_NOT_FOUND");

    // only the project's own uploads and outputs: not another folder of it
    Files.createDirectories(project("linked-upload").resolve("elsewhere"));
    Files.write(project("linked-upload").resolve("elsewhere/x.png"), PixelBomb.png(8, 8));
    HttpResponse<String> elsewhere = startInvert("linked-upload", "elsewhere/x.png");
    assertThat(elsewhere.statusCode()).as(elsewhere.body()).isEqualTo(422);
    assertThat(JSON.readTree(elsewhere.body()).at("/problems/0/code").asText())
        .isEqualTo("FILE_NOT_FOUND");
  }

  @Test
  void aProjectFolderThatIsALinkIsNotWrittenThrough() throws Exception {
    Path target = Files.createDirectories(ROOT.resolve("outside-project"));
    Files.createDirectories(ROOT.resolve("outputs"));
    Files.createSymbolicLink(project("linked-project"), target);
    HttpResponse<String> refused = upload("linked-project");
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);
    assertThat(JSON.readTree(refused.body()).get("code").asText()).isEqualTo("UNSAFE_PATH");
    try (var written = Files.walk(target)) {
      assertThat(written.filter(Files::isRegularFile)).isEmpty();
    }
  }

  @Test
  void anUploadDeclaredOverTheLimitIsRefusedBeforeItsBodyIsRead() throws Exception {
    long declared = 200L * 1024 * 1024;
    try (Socket socket = new Socket("127.0.0.1", port)) {
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /api/projects/big/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  + authorization()
                  + "Content-Type: multipart/form-data; boundary=zz\r\n"
                  + "Content-Length: "
                  + declared
                  + "\r\n\r\n--zz\r\nContent-Disposition: form-data; name=\"file\";"
                  + " filename=\"big.png\"\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      // not a byte of the 200 MB more: the answer comes anyway
      String answer = readAnswer(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 413");
      assertThat(answer).contains("\"code\":\"FILE_TOO_LARGE\"");
    }
    assertANormalGenerationSucceeds("big");
  }

  @Test
  void aChunkedUploadStopsBeingReadOnceItPassesTheLimit() throws Exception {
    long total = 200L * 1024 * 1024;
    AtomicLong sent = new AtomicLong();
    try (Socket socket = new Socket("127.0.0.1", port)) {
      OutputStream out = socket.getOutputStream();
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(() -> {
            try {
              out.write(
                  ("POST /api/projects/big-chunked/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          + authorization()
                          + "Content-Type: multipart/form-data; boundary=zz\r\n"
                          + "Transfer-Encoding: chunked\r\n\r\n")
                      .getBytes(StandardCharsets.US_ASCII));
              byte[] head =
                  ("--zz\r\nContent-Disposition: form-data; name=\"file\";"
                          + " filename=\"big.png\"\r\n\r\n")
                      .getBytes(StandardCharsets.US_ASCII);
              chunk(out, head);
              byte[] block = new byte[64 * 1024];
              while (sent.get() < total) {
                chunk(out, block);
                sent.addAndGet(block.length);
              }
            } catch (IOException closed) {
              // the server stopped reading and closed the connection: expected
            }
          });
      String answer = readAnswer(socket.getInputStream());
      assertThat(answer).startsWith("HTTP/1.1 413");
      assertThat(answer).contains("\"code\":\"FILE_TOO_LARGE\"");
      socket.close();
      writer.join();
    }
    assertThat(sent.get())
        .as("the server stopped reading near the 2 MB limit, not after 200 MB")
        .isLessThan(total / 4);
    assertANormalGenerationSucceeds("big-chunked");
  }

  @Test
  void tooManyPartsAreRefused() throws Exception {
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      body.append("--zz\r\nContent-Disposition: form-data; name=\"f")
          .append(i)
          .append("\"\r\n\r\nx\r\n");
    }
    body.append("--zz--\r\n");
    HttpResponse<String> refused =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/projects/parts/uploads"))
                .header("content-type", "multipart/form-data; boundary=zz")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(413);
    assertThat(JSON.readTree(refused.body()).get("code").asText()).isEqualTo("TOO_MANY_PARTS");
  }

  /** The Authorization header line of a request written by hand. */
  private static String authorization() {
    return "Authorization: Bearer " + EmbeddedTestRoot.key(ROOT) + "\r\n";
  }

  private static void chunk(OutputStream out, byte[] data) throws IOException {
    out.write((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(data);
    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  /** The status line, headers and (Content-Length) body of an HTTP/1.1 answer. */
  private static String readAnswer(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int b;
    while ((b = in.read()) != -1) {
      head.write(b);
      String s = head.toString(StandardCharsets.ISO_8859_1);
      if (s.endsWith("\r\n\r\n")) {
        break;
      }
    }
    String headers = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return headers + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }

  /** Uploads a small real PNG into the project, runs invert on it: SUCCEEDED. Its id. */
  private String assertANormalGenerationSucceeds(String projectId) throws Exception {
    HttpResponse<String> uploaded = upload(projectId);
    assertThat(uploaded.statusCode()).as(uploaded.body()).isEqualTo(201);
    String path = JSON.readTree(uploaded.body()).get("path").asText();
    HttpResponse<String> started = startInvert(projectId, path);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    JsonNode end = awaitEnd(JSON.readTree(started.body()).get("id").asText());
    assertThat(end.get("status").asText()).as(end.toString()).isEqualTo("SUCCEEDED");
    return end.get("id").asText();
  }

  private HttpResponse<String> upload(String projectId) throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    javax.imageio.ImageIO.write(io.tempera.testkit.fixtures.TestImages.sample(), "png", png);
    return http.send(
        EmbeddedTestRoot.multipart(
            ROOT,
            uri("/api/projects/" + projectId + "/uploads"),
            "sample.png",
            "image/png",
            png.toByteArray()),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> startInvert(String projectId, String image) throws Exception {
    Map<String, Object> body =
        Map.of(
            "functionId",
            "invert",
            "tier",
            "standard",
            "projectId",
            projectId,
            "nodeId",
            "node-1",
            "requestId",
            "hostile-" + UUID.randomUUID(),
            "parameters",
            Map.of("image", image));
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The generation's final state, from its event stream's terminal event. */
  private JsonNode awaitEnd(String id) throws Exception {
    HttpResponse<java.util.stream.Stream<String>> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(Duration.ofSeconds(120))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    String event = null;
    try (var lines = response.body()) {
      for (String line : (Iterable<String>) lines::iterator) {
        if (line.startsWith("event:")) {
          event = line.substring(6).trim();
        } else if (line.startsWith("data:")
            && ("succeeded".equals(event) || "failed".equals(event) || "cancelled".equals(event))) {
          return JSON.readTree(line.substring(5).trim());
        }
      }
    }
    throw new AssertionError("the events of " + id + " ended without a terminal event");
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
