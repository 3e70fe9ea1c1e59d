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
import com.github.tomakehurst.wiremock.stubbing.Scenario;
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
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A webhook through the whole embedded system: a generation submitted to the API with a webhook
 * runs on the worker, and its end is delivered to a WireMock receiver that fails once — signed with
 * the project's secret, its output URL working without a key, both attempts in the REST state.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.webhooks.allow-private=true",
      "tempera.webhooks.allow-http=true",
      "tempera.webhooks.initial-interval=300ms"
    })
class WebhookEndToEndTest {

  static final String PROJECT = "project-hooks";
  static final Path ROOT = EmbeddedTestRoot.create("tempera-webhooks");
  static final ObjectMapper JSON = new ObjectMapper();
  static final WireMockServer RECEIVER =
      new WireMockServer(WireMockConfiguration.options().dynamicPort());

  /** Made before the application starts, as an operator would: `keys webhooks allow`. */
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
  void aGenerationsEndIsDeliveredSignedToItsWebhookAfterTheReceiverFailedOnce() throws Exception {
    RECEIVER.stubFor(
        post(urlEqualTo("/tempera"))
            .inScenario("once")
            .whenScenarioStateIs(Scenario.STARTED)
            .willReturn(aResponse().withStatus(502))
            .willSetStateTo("up"));
    RECEIVER.stubFor(
        post(urlEqualTo("/tempera"))
            .inScenario("once")
            .whenScenarioStateIs("up")
            .willReturn(aResponse().withStatus(204)));
    String url = "http://127.0.0.1:" + RECEIVER.port() + "/tempera";

    HttpResponse<String> accepted =
        http.send(
            EmbeddedTestRoot.request(ROOT, api("/api/generations"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"functionId\":\"generate-pattern\",\"tier\":\"draft\",\"projectId\":\""
                            + PROJECT
                            + "\",\"nodeId\":\"n1\",\"parameters\":{},\"webhook\":{\"url\":\""
                            + url
                            + "\"}}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = JSON.readTree(accepted.body()).get("id").asText();

    JsonNode[] state = new JsonNode[1];
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> {
          state[0] = get(id);
          assertThat(state[0].path("webhook").path("status").asText()).isEqualTo("DELIVERED");
        });
    assertThat(state[0].get("status").asText()).isEqualTo("SUCCEEDED");
    JsonNode attempts = state[0].get("webhook").get("attempts");
    assertThat(attempts).hasSize(2);
    assertThat(attempts.get(0).get("httpStatus").asInt()).isEqualTo(502);
    assertThat(attempts.get(1).get("httpStatus").asInt()).isEqualTo(204);

    List<LoggedRequest> posts = RECEIVER.findAll(postRequestedFor(urlEqualTo("/tempera")));
    assertThat(posts).hasSize(2);
    LoggedRequest delivered = posts.get(1);
    assertThat(
            WebhookSignature.verify(
                delivered.getHeader(WebhookSignature.HEADER),
                delivered.getBody(),
                SECRET,
                Instant.now().getEpochSecond(),
                300))
        .isTrue();
    assertThat(delivered.getHeader("Tempera-Event-Id"))
        .isEqualTo(posts.get(0).getHeader("Tempera-Event-Id"))
        .isEqualTo("evt-" + id);
    JsonNode event = JSON.readTree(delivered.getBody());
    assertThat(event.get("type").asText()).isEqualTo("generation.succeeded");
    JsonNode generation = event.get("generation");
    assertThat(generation.get("id").asText()).isEqualTo(id);
    assertThat(generation.get("status").asText()).isEqualTo("SUCCEEDED");
    // the output's signed URL in the event works without a key
    String output = generation.get("outputs").get(0).get("url").asText();
    HttpResponse<byte[]> file =
        http.send(
            HttpRequest.newBuilder(api(output)).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertThat(file.statusCode()).isEqualTo(200);
    assertThat(file.body()).hasSizeGreaterThan(100);
  }

  private URI api(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private JsonNode get(String id) throws Exception {
    HttpResponse<String> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, api("/api/generations/" + id)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }
}
