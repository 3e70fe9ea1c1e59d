package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Health tells the truth: a backend that takes a run and then does nothing (a step that never ends,
 * as a wedged executor) takes readiness DOWN, with the reason, though its port answers; a run that
 * progresses brings it back UP.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class BackendReadinessEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create("tempera-readiness", EmbeddedTestRoot.activitiesTemplate("wedged"));
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aWedgedBackendTakesReadinessDownUntilARunProgresses() throws Exception {
    assertThat(readiness().path("status").asText()).isEqualTo("UP");

    JsonNode wedged = generate(Map.of("step_ms", 20000));
    assertThat(wedged.get("status").asText()).isEqualTo("FAILED");
    assertThat(wedged.get("error").get("code").asText()).isIn("STALLED", "TIMEOUT");
    JsonNode down = readiness();
    assertThat(down.path("status").asText()).isEqualTo("DOWN");
    JsonNode backends = down.path("components").path("backends");
    assertThat(backends.path("status").asText()).isEqualTo("DOWN");
    assertThat(backends.path("details").path("trip").asText()).isIn("STALLED", "QUEUE_WAIT");
    assertThat(backends.path("details").path("reason").asText()).contains("does not progress");
    HttpResponse<String> open =
        http.send(
            HttpRequest.newBuilder(uri("/actuator/health/readiness")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(open.statusCode()).as("readiness answers 503 while DOWN").isEqualTo(503);

    JsonNode fine = generate(Map.of("step_ms", 10));
    assertThat(fine.get("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(readiness().path("status").asText()).isEqualTo("UP");
  }

  private JsonNode generate(Map<String, Object> parameters) throws Exception {
    HttpResponse<String> started =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(
                            Map.of(
                                "functionId",
                                "wedged",
                                "projectId",
                                "readiness",
                                "nodeId",
                                "n",
                                "parameters",
                                parameters))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    JsonNode[] state = {null};
    Awaitility.await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> {
          state[0] =
              JSON.readTree(
                  http.send(
                          EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id)).build(),
                          HttpResponse.BodyHandlers.ofString())
                      .body());
          return state[0].path("status").asText().matches("SUCCEEDED|FAILED|CANCELLED");
        });
    return state[0];
  }

  /** The readiness group as an operator sees it (with details). */
  private JsonNode readiness() throws Exception {
    return JSON.readTree(
        http.send(
                EmbeddedTestRoot.request(ROOT, uri("/actuator/health/readiness")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
