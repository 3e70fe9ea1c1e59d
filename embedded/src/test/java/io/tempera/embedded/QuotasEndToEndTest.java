package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Quotas through the real API, its worker and its slot allocator (two slots, no prefetch): project
 * {@code quota} may have 2 generations waiting, and the whole queue 4. Its fifth generation (two
 * running, two waiting) is refused with 429 QUOTA_QUEUED and Retry-After, on REST and on the canvas
 * socket, while another project is still admitted until the queue is full (QUEUE_FULL); a requestId
 * repeated for a generation it started is answered, not refused. Operators see the usage; a project
 * key does not.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.worker.slots=2",
      "tempera.worker.prefetch=0",
      "tempera.quotas.projects.quota.max-queued=2",
      "tempera.quotas.max-queued-total=4",
      "tempera.quotas.counts-fresh=0s"
    })
class QuotasEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create("tempera-quotas", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final List<String> started = new ArrayList<>();

  @LocalServerPort int port;
  @Autowired ApiKeyStore keys;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @AfterEach
  void cancelEverything() throws Exception {
    for (String id : started) {
      http.send(
          EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/cancel"))
              .POST(HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.discarding());
    }
  }

  @Test
  void aProjectOverItsQueuedLimitGets429WithRetryAfterWhileAnotherIsAdmittedUntilTheQueueIsFull()
      throws Exception {
    String quotaKey = keys.create(Caller.Role.PROJECT, "quota", "quota test").secret();
    String otherKey = keys.create(Caller.Role.PROJECT, "other", "quota test").secret();
    String quotaImage = upload("quota");
    String otherImage = upload("other");

    // two run (the two slots), two wait: the project's limit. A generation counts as waiting
    // from its admission on, so each is let reach the allocator before the next is sent
    for (int i = 1; i <= 4; i++) {
      HttpResponse<String> accepted = start(quotaKey, "quota", quotaImage, "q" + i);
      assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
      started.add(JSON.readTree(accepted.body()).get("id").asText());
      int admitted = i;
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> {
            JsonNode quota = project(usage(EmbeddedTestRoot.key(ROOT)), "quota");
            return quota.get("running").asInt() == Math.min(admitted, 2)
                && quota.get("queued").asInt() == Math.max(0, admitted - 2);
          });
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> {
          JsonNode quota = project(usage(EmbeddedTestRoot.key(ROOT)), "quota");
          assertThat(quota.get("running").asInt()).isEqualTo(2);
          assertThat(quota.get("queued").asInt()).isEqualTo(2);
        });

    HttpResponse<String> fifth = start(quotaKey, "quota", quotaImage, "q5");
    assertThat(fifth.statusCode()).as(fifth.body()).isEqualTo(429);
    JsonNode refusal = JSON.readTree(fifth.body());
    assertThat(refusal.get("code").asText()).isEqualTo("QUOTA_QUEUED");
    assertThat(refusal.get("message").asText())
        .isEqualTo(
            "Project quota already has 2 generations waiting, its limit; try again when some have"
                + " started.");
    int retryAfter = Integer.parseInt(fifth.headers().firstValue("Retry-After").orElseThrow());
    assertThat(retryAfter).isBetween(1, 3600);

    // the same requestId again: the generation it started, not a refusal
    HttpResponse<String> again = start(quotaKey, "quota", quotaImage, "q1");
    assertThat(again.statusCode()).as(again.body()).isEqualTo(202);
    assertThat(JSON.readTree(again.body()).get("id").asText()).isEqualTo(started.get(0));

    // the canvas socket refuses with the same code
    ProjectIsolationEndToEndTest.Socket socket =
        ProjectIsolationEndToEndTest.Socket.open(http, uri("/ws"), null);
    socket.send(Map.of("type", "authenticate", "key", quotaKey));
    assertThat(socket.next().get("type").asText()).isEqualTo("authenticated");
    socket.send(
        Map.of(
            "type", "start_generation",
            "functionId", "slow-invert",
            "nodeId", "n",
            "requestId", "ws1",
            "parameters", Map.of("image", quotaImage, "steps", 1000)));
    JsonNode refused = socket.next();
    assertThat(refused.get("type").asText()).isEqualTo("error");
    assertThat(refused.get("code").asText()).isEqualTo("QUOTA_QUEUED");
    assertThat(refused.get("retryAfterSeconds").asInt()).isBetween(1, 3600);
    assertThat(refused.get("requestId").asText()).isEqualTo("ws1");
    socket.abort();

    // another project is admitted: 3 and then 4 waiting, the queue's bound
    for (int i = 1; i <= 2; i++) {
      HttpResponse<String> accepted = start(otherKey, "other", otherImage, "o" + i);
      assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
      started.add(JSON.readTree(accepted.body()).get("id").asText());
    }
    HttpResponse<String> full = start(otherKey, "other", otherImage, "o3");
    assertThat(full.statusCode()).as(full.body()).isEqualTo(429);
    assertThat(JSON.readTree(full.body()).get("code").asText()).isEqualTo("QUEUE_FULL");
    assertThat(full.headers().firstValue("Retry-After")).isPresent();

    // operators see every project's usage and its limits; a project key is refused
    JsonNode usage = usage(EmbeddedTestRoot.key(ROOT));
    assertThat(usage.get("maxQueuedTotal").asInt()).isEqualTo(4);
    assertThat(usage.get("slots").asInt()).isEqualTo(2);
    JsonNode quota = project(usage, "quota");
    assertThat(quota.get("limits").get("maxQueued").asInt()).isEqualTo(2);
    assertThat(quota.get("limits").get("maxRunning").isNull()).isTrue();
    assertThat(project(usage, "other").get("limits").get("maxQueued").isNull()).isTrue();
    HttpResponse<String> forbidden =
        http.send(
            HttpRequest.newBuilder(uri("/api/admin/usage"))
                .header("Authorization", "Bearer " + quotaKey)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(forbidden.statusCode()).isEqualTo(403);

    // GPU time is counted while the two run
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() ->
            project(usage(EmbeddedTestRoot.key(ROOT)), "quota").get("gpuSecondsThisHour").asLong()
                >= 1);
  }

  private HttpResponse<String> start(String key, String project, String image, String requestId)
      throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("functionId", "slow-invert");
    body.put("projectId", project);
    body.put("nodeId", "n");
    body.put("requestId", requestId);
    body.put("parameters", Map.of("image", image, "steps", 1000));
    return http.send(
        HttpRequest.newBuilder(uri("/api/generations"))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        ROOT, http, uri("/api/projects/" + project + "/uploads"), "image/png");
  }

  private JsonNode usage(String key) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(uri("/api/admin/usage"))
                .header("Authorization", "Bearer " + key)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  private static JsonNode project(JsonNode usage, String projectId) {
    for (JsonNode p : usage.get("projects")) {
      if (projectId.equals(p.path("projectId").asText(null))) {
        return p;
      }
    }
    throw new AssertionError("no project " + projectId + " in " + usage);
  }

  private URI uri(String path) {
    return URI.create("http://localhost:" + port + path);
  }
}
