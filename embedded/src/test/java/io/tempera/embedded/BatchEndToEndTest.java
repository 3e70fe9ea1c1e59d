package io.tempera.embedded;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.WebhookSignature;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A batch through the whole embedded system: a sweep over generate-pattern's border submitted to
 * the API runs as real generations on the worker (the testkit ComfyUI renders each), two at a time;
 * every variation's output is listed with a signed URL that serves its image, and the batch's end
 * reaches its webhook, signed, with every variation in it.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.webhooks.allow-private=true",
      "tempera.webhooks.allow-http=true",
      "tempera.batches.max-in-flight=2"
    })
class BatchEndToEndTest {

  static final String PROJECT = "project-batches";
  static final Path ROOT = EmbeddedTestRoot.create("tempera-batches");
  static final ObjectMapper JSON = new ObjectMapper();
  static final WireMockServer RECEIVER =
      new WireMockServer(WireMockConfiguration.options().dynamicPort());

  static final String SECRET =
      new ApiKeyStore(EmbeddedTestRoot.keysFile(ROOT))
          .allowWebhookHosts(PROJECT, List.of("127.0.0.1"));

  static {
    RECEIVER.start();
  }

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @LocalServerPort int port;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @AfterAll
  static void stopReceiver() {
    RECEIVER.stop();
  }

  @Test
  void aSweepRunsAsRealGenerationsAndItsEndReachesItsWebhook() throws Exception {
    RECEIVER.stubFor(post(urlEqualTo("/batches")).willReturn(aResponse().withStatus(204)));
    String url = "http://127.0.0.1:" + RECEIVER.port() + "/batches";

    HttpResponse<String> accepted =
        http.send(
            EmbeddedTestRoot.request(ROOT, api("/api/batches"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"functionId\":\"generate-pattern\",\"tier\":\"draft\",\"projectId\":\""
                            + PROJECT
                            + "\",\"nodeId\":\"n1\",\"parameters\":{\"blur\":2},"
                            + "\"sweep\":{\"border\":[8,16,24]},\"webhook\":{\"url\":\""
                            + url
                            + "\"}}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = JSON.readTree(accepted.body()).get("id").asText();
    assertThat(JSON.readTree(accepted.body()).get("total").asInt()).isEqualTo(3);

    // followed live over SSE from its start: the counts as they move, ids increasing, its end
    HttpResponse<java.util.stream.Stream<String>> stream =
        http.send(
            EmbeddedTestRoot.request(ROOT, api("/api/batches/" + id + "/events"))
                .header("Accept", "text/event-stream")
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    assertThat(stream.statusCode()).isEqualTo(200);
    java.util.concurrent.CompletableFuture<List<String>> followed =
        java.util.concurrent.CompletableFuture.supplyAsync(() ->
            stream
                .body()
                .filter(line -> line.startsWith("event:") || line.startsWith("id:"))
                .toList());

    JsonNode[] state = new JsonNode[1];
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(() -> {
          state[0] = get("/api/batches/" + id);
          assertThat(state[0].path("status").asText()).isEqualTo("COMPLETED");
        });
    JsonNode progress = state[0].get("progress");
    assertThat(progress.get("succeeded").asInt()).as(state[0].toString()).isEqualTo(3);
    assertThat(progress.get("failed").asInt()).isZero();
    Set<Integer> borders = new HashSet<>();
    for (JsonNode item : state[0].get("results").get("items")) {
      assertThat(item.get("status").asText()).isEqualTo("SUCCEEDED");
      borders.add(item.get("parameters").get("border").asInt());
      String output = item.get("outputs").get(0).get("url").asText();
      HttpResponse<byte[]> file =
          http.send(
              HttpRequest.newBuilder(api(output)).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertThat(file.statusCode()).isEqualTo(200);
      assertThat(file.body()).hasSizeGreaterThan(100);
      // the variation is a generation like any other, with its border
      JsonNode generation = get("/api/generations/" + item.get("generationId").asText());
      assertThat(generation.get("parameters").get("border").asInt())
          .isEqualTo(item.get("parameters").get("border").asInt());
      assertThat(generation.get("parameters").get("blur").asInt()).isEqualTo(2);
    }
    assertThat(borders).containsExactlyInAnyOrder(8, 16, 24);

    List<String> lines = followed.get(30, java.util.concurrent.TimeUnit.SECONDS);
    List<String> names = lines.stream().filter(l -> l.startsWith("event:")).toList();
    List<Long> ids =
        lines.stream()
            .filter(l -> l.startsWith("id:"))
            .map(l -> Long.parseLong(l.substring(3).strip()))
            .toList();
    assertThat(names).last().isEqualTo("event:completed");
    assertThat(names.subList(0, names.size() - 1)).isNotEmpty().allMatch("event:progress"::equals);
    assertThat(ids).isSorted().doesNotHaveDuplicates().last().isEqualTo(7L);

    // listed among its project's batches (Temporal's visibility query on the real server)
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> {
          JsonNode listed = get("/api/batches?status=completed");
          assertThat(listed.path("items")).extracting(i -> i.path("id").asText()).contains(id);
        });
    JsonNode item = get("/api/batches").path("items").get(0);
    assertThat(item.path("id").asText()).isEqualTo(id);
    assertThat(item.path("total").asInt()).isEqualTo(3);
    assertThat(item.path("progress").path("succeeded").asInt()).isEqualTo(3);
    assertThat(item.path("createdAt").asText()).isNotEmpty();

    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() ->
            assertThat(get("/api/batches/" + id).path("webhook").path("status").asText())
                .isEqualTo("DELIVERED"));
    List<LoggedRequest> posts = RECEIVER.findAll(postRequestedFor(urlEqualTo("/batches")));
    assertThat(posts).hasSize(1);
    LoggedRequest delivered = posts.get(0);
    assertThat(
            WebhookSignature.verify(
                delivered.getHeader(WebhookSignature.HEADER),
                delivered.getBody(),
                SECRET,
                Instant.now().getEpochSecond(),
                300))
        .isTrue();
    assertThat(delivered.getHeader("Tempera-Event-Id")).isEqualTo("evt-" + id);
    JsonNode event = JSON.readTree(delivered.getBody());
    assertThat(event.get("type").asText()).isEqualTo("batch.completed");
    assertThat(event.get("batch").get("id").asText()).isEqualTo(id);
    assertThat(event.get("batch").get("progress").get("succeeded").asInt()).isEqualTo(3);
    assertThat(event.get("batch").get("results").get("items")).hasSize(3);
  }

  private URI api(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private JsonNode get(String path) throws Exception {
    HttpResponse<String> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, api(path)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }
}
