package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import io.tempera.security.SignedUrls;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * An upload read back (#19): by its project (its key, or the signed URL the upload's answer and the
 * generation's {@code inputs} give, without a key), never by another project; bad names, links,
 * files that are no image and expired or forged signatures refused with a code and a message, and
 * no answer says where the files are stored.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class UploadReadBackEndToEndTest {

  static final Path ROOT = EmbeddedTestRoot.create("tempera-upload-read");
  static final ObjectMapper JSON = new ObjectMapper();

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ApiKeyStore keys;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aProjectReadsItsUploadBackWithItsKeyOrTheSignedUrlAndTheGenerationListsIt()
      throws Exception {
    String alpha = key("alpha");
    byte[] png = samplePng();
    JsonNode uploaded = upload("alpha", alpha, png);
    String path = uploaded.get("path").asText();
    String url = uploaded.get("url").asText();
    assertThat(path).startsWith("uploads/");
    String name = path.substring("uploads/".length());
    assertThat(url)
        .startsWith("/api/projects/alpha/uploads/" + name + "?expires=")
        .contains("&signature=");

    // the signed URL, without a key (an <img> sends none)
    HttpResponse<byte[]> signed = getBytes(url, null);
    assertThat(signed.statusCode()).isEqualTo(200);
    assertThat(signed.body()).isEqualTo(png);
    assertThat(signed.headers().firstValue("content-type")).hasValue("image/png");
    assertThat(signed.headers().firstValue("x-content-type-options")).hasValue("nosniff");
    assertThat(signed.headers().firstValue("cache-control").orElse("")).contains("private");
    // the route with the project's key
    HttpResponse<byte[]> withKey = getBytes("/api/projects/alpha/uploads/" + name, alpha);
    assertThat(withKey.statusCode()).isEqualTo(200);
    assertThat(withKey.body()).isEqualTo(png);
    // nothing without either
    HttpResponse<String> keyless = get("/api/projects/alpha/uploads/" + name, null);
    assertProblem(keyless, 401, "UNAUTHENTICATED");

    // the generation that used it lists it among its inputs, with a fresh URL that reads it back
    HttpResponse<String> started = startInvert(alpha, "alpha", path);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    JsonNode done = awaitEnd(id, alpha);
    assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("SUCCEEDED");
    JsonNode inputs = done.get("inputs");
    assertThat(inputs).as(done.toString()).hasSize(1);
    assertThat(inputs.get(0).get("parameter").asText()).isEqualTo("image");
    assertThat(inputs.get(0).get("path").asText()).isEqualTo(path);
    HttpResponse<byte[]> fromGeneration = getBytes(inputs.get(0).get("url").asText(), null);
    assertThat(fromGeneration.statusCode()).isEqualTo(200);
    assertThat(fromGeneration.body()).isEqualTo(png);

    // an upload deleted since: a clear 404 (the page says the input is gone)
    Files.delete(ROOT.resolve("outputs/alpha").resolve(path));
    HttpResponse<String> gone = get(url, null);
    assertProblem(gone, 404, "NOT_FOUND");
    assertThat(JSON.readTree(gone.body()).get("message").asText())
        .contains("no upload named '" + name + "'");
  }

  @Test
  void anotherProjectFindsNoUploadOfThisOne() throws Exception {
    String alpha = key("alpha");
    String beta = key("beta");
    JsonNode uploaded = upload("alpha", alpha, samplePng());
    String name = uploaded.get("path").asText().substring("uploads/".length());
    String url = uploaded.get("url").asText();

    // beta's key on alpha's upload: as for a project that does not exist
    HttpResponse<String> theirs = get("/api/projects/alpha/uploads/" + name, beta);
    HttpResponse<String> nowhere = get("/api/projects/no-such-project/uploads/" + name, beta);
    assertProblem(theirs, 404, "UNKNOWN_PROJECT");
    assertThat(theirs.body()).isEqualTo(nowhere.body());
    // beta's own project has no such upload
    assertProblem(get("/api/projects/beta/uploads/" + name, beta), 404, "NOT_FOUND");
    // alpha's signature grants alpha's file only: not beta's path, not another name
    String query = url.substring(url.indexOf('?'));
    for (String wrong :
        List.of(
            "/api/projects/beta/uploads/" + name + query,
            "/api/projects/alpha/uploads/other.png" + query)) {
      assertProblem(get(wrong, null), 401, "UNAUTHENTICATED");
    }
  }

  @Test
  void badNamesLinksAndFilesThatAreNoImageAreRefusedWithoutSayingWhereFilesAre() throws Exception {
    String alpha = key("alpha");
    upload("alpha", alpha, samplePng());
    Path uploads = ROOT.resolve("outputs/alpha/uploads");
    Path secret = ROOT.resolve("secret.png");
    Files.write(secret, samplePng());
    Files.createSymbolicLink(uploads.resolve("link.png"), secret);
    Files.writeString(uploads.resolve("page.png"), "<html><script>alert(1)</script></html>");
    Files.write(uploads.resolve(".upload-123.part"), samplePng());

    for (String name : List.of("link.png", "page.png", "missing.png")) {
      HttpResponse<String> answer = get("/api/projects/alpha/uploads/" + name, alpha);
      assertProblem(answer, 404, "NOT_FOUND");
      assertThat(answer.headers().firstValue("content-type").orElse(""))
          .startsWith("application/json");
    }
    // hidden files (an upload on its way) and names that are no single safe segment
    for (String name :
        List.of(".upload-123.part", "..", "%2E%2E", "a%20b.png", "%2e%2e%2fkeys.json")) {
      HttpResponse<String> answer = get("/api/projects/alpha/uploads/" + name, alpha);
      assertThat(answer.statusCode()).as(name + ": " + answer.body()).isBetween(400, 404);
      JsonNode body = JSON.readTree(answer.body());
      assertThat(body.get("code").asText()).as(name).isNotBlank();
      assertThat(body.get("message").asText()).as(name).isNotBlank();
      assertThat(answer.body()).as(name).doesNotContain("keys").doesNotContain("secret");
    }
    assertProblem(get("/api/projects/alpha/uploads/.upload-123.part", alpha), 400, "INVALID_FIELD");
    assertProblem(get("/api/projects/a%20b/uploads/x.png", alpha), 400, "INVALID_FIELD");
    // no answer names a stored file's place
    for (String name : List.of("link.png", "page.png", ".upload-123.part", "missing.png")) {
      String body = get("/api/projects/alpha/uploads/" + name, alpha).body();
      assertThat(body).doesNotContain(ROOT.toString()).doesNotContain("/outputs/");
    }
  }

  @Test
  void expiredAndForgedSignaturesAreRefused() throws Exception {
    String alpha = key("alpha");
    JsonNode uploaded = upload("alpha", alpha, samplePng());
    String url = uploaded.get("url").asText();
    String route = url.substring(0, url.indexOf('?'));
    String expires = url.replaceAll(".*expires=(\\d+).*", "$1");
    String later = url.replace("expires=" + expires, "expires=" + (Long.parseLong(expires) + 3600));
    String tampered = url.substring(0, url.length() - 2) + (url.endsWith("A") ? "BB" : "AA");
    // signed with the server's own secret, but two days ago for a day: expired
    SignedUrls past =
        new SignedUrls(
            keys::urlSigningKey,
            Duration.ofDays(1),
            Clock.fixed(Instant.now().minus(Duration.ofDays(2)), ZoneOffset.UTC));
    String expired = past.sign(route);
    SignedUrls now = new SignedUrls(keys::urlSigningKey, Duration.ofHours(1), Clock.systemUTC());
    assertThat(getBytes(now.sign(route), null).statusCode())
        .as("the same secret, not expired: granted")
        .isEqualTo(200);
    for (String wrong :
        List.of(later, tampered, expired, route + "?expires=" + expires, route + "?signature=x")) {
      HttpResponse<String> answer = get(wrong, null);
      assertProblem(answer, 401, "UNAUTHENTICATED");
      assertThat(JSON.readTree(answer.body()).get("message").asText())
          .as(wrong)
          .contains("expired or is not valid");
    }
  }

  // ------------------------------------------------------------------ helpers

  private String key(String project) {
    return keys.create(Caller.Role.PROJECT, project, "upload read-back test").secret();
  }

  private static byte[] samplePng() throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    javax.imageio.ImageIO.write(io.tempera.testkit.fixtures.TestImages.sample(), "png", png);
    return png.toByteArray();
  }

  private JsonNode upload(String project, String key, byte[] png) throws Exception {
    HttpRequest request =
        EmbeddedTestRoot.multipart(
            ROOT, uri("/api/projects/" + project + "/uploads"), "s.png", "image/png", png);
    HttpRequest withKey =
        HttpRequest.newBuilder(request, (n, v) -> !n.equalsIgnoreCase("authorization"))
            .header("Authorization", "Bearer " + key)
            .build();
    HttpResponse<String> answer = http.send(withKey, HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
    return JSON.readTree(answer.body());
  }

  private HttpResponse<String> startInvert(String key, String project, String image)
      throws Exception {
    Map<String, Object> body =
        Map.of(
            "functionId",
            "invert",
            "projectId",
            project,
            "nodeId",
            "n",
            "requestId",
            "read-back-" + UUID.randomUUID(),
            "parameters",
            Map.of("image", image));
    return http.send(
        HttpRequest.newBuilder(uri("/api/generations"))
            .header("Authorization", "Bearer " + key)
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode awaitEnd(String id, String key) {
    JsonNode[] last = {null};
    Awaitility.await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          last[0] = JSON.readTree(get("/api/generations/" + id, key).body());
          String status = last[0].path("status").asText();
          return status.equals("SUCCEEDED")
              || status.equals("FAILED")
              || status.equals("CANCELLED");
        });
    return last[0];
  }

  private static void assertProblem(HttpResponse<String> answer, int status, String code)
      throws Exception {
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(status);
    JsonNode body = JSON.readTree(answer.body());
    assertThat(body.get("code").asText()).as(answer.body()).isEqualTo(code);
    assertThat(body.get("message").asText()).isNotBlank();
  }

  private HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri(path));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<byte[]> getBytes(String path, String key) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri(path));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
