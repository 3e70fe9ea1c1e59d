package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The whole embedded system checks its templates against the /object_info of the ComfyUI it runs on
 * (the testkit server): a function whose graph names a node class that server lacks is listed
 * unavailable with the class named, never offered, and its start is refused with
 * FUNCTION_UNAVAILABLE over REST and the canvas WebSocket; every other function still runs.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class UnavailableFunctionEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-unavailable",
          Path.of("../starter-api/src/test/resources/templates/needs-custom-node"));
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ComfyUiTestServer comfy;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aFunctionNeedingANodeTheServerLacksIsListedUnavailableAndNeverOffered() throws Exception {
    List<String> offered = new ArrayList<>();
    JSON.readTree(get("/api/functions").body()).forEach(f -> offered.add(f.get("id").asText()));
    assertThat(offered)
        .contains("invert", "generate-pattern", "framed-color", "gradient")
        .doesNotContain("needs-custom-node");

    JsonNode unavailable = JSON.readTree(get("/api/functions/unavailable").body());
    JsonNode problem = null;
    for (JsonNode f : unavailable) {
      if (f.get("id").asText().equals("needs-custom-node")) {
        problem = f.at("/problems/0");
      }
    }
    assertThat(problem).as(unavailable.toString()).isNotNull();
    assertThat(problem.get("code").asText()).isEqualTo("UNKNOWN_NODE_CLASS");
    assertThat(problem.get("classType").asText()).isEqualTo("FaceDetailer");
    assertThat(problem.get("nodeId").asText()).isEqualTo("2");
    assertThat(problem.get("reason").asText())
        .contains("FaceDetailer")
        .contains("the ComfyUI at " + comfy.baseUrl());
  }

  @Test
  void itsStartIsRefusedWithAClearCodeOverRestAndTheCanvasSocket() throws Exception {
    HttpResponse<String> refused =
        post(
            Map.of(
                "functionId",
                "needs-custom-node",
                "projectId",
                "p",
                "nodeId",
                "n",
                "parameters",
                Map.of("image", "uploads/x.png")));
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
    JsonNode error = JSON.readTree(refused.body());
    assertThat(error.get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
    assertThat(error.get("message").asText()).contains("FaceDetailer");

    LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    WebSocket socket =
        http.newWebSocketBuilder()
            .buildAsync(
                URI.create("ws://127.0.0.1:" + port + "/ws"),
                new WebSocket.Listener() {
                  final StringBuilder buffer = new StringBuilder();

                  @Override
                  public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                    buffer.append(data);
                    if (last) {
                      try {
                        received.add(JSON.readTree(buffer.toString()));
                      } catch (Exception e) {
                        throw new IllegalStateException(e);
                      }
                      buffer.setLength(0);
                    }
                    ws.request(1);
                    return null;
                  }
                })
            .get(10, TimeUnit.SECONDS);
    try {
      EmbeddedTestRoot.authenticate(ROOT, socket, received);
      socket
          .sendText(
              JSON.writeValueAsString(
                  Map.of(
                      "type",
                      "start_generation",
                      "functionId",
                      "needs-custom-node",
                      "projectId",
                      "p",
                      "nodeId",
                      "node-7",
                      "parameters",
                      Map.of("image", "uploads/x.png"))),
              true)
          .get(10, TimeUnit.SECONDS);
      JsonNode reply = received.poll(30, TimeUnit.SECONDS);
      assertThat(reply).isNotNull();
      assertThat(reply.get("type").asText()).isEqualTo("error");
      assertThat(reply.get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
      assertThat(reply.get("nodeId").asText()).isEqualTo("node-7");
      assertThat(reply.toString()).contains("FaceDetailer");
    } finally {
      socket.abort();
    }
  }

  @Test
  void theOtherFunctionsStillRun() throws Exception {
    HttpResponse<String> started =
        post(
            Map.of(
                "functionId",
                "generate-pattern",
                "tier",
                "draft",
                "projectId",
                "p",
                "nodeId",
                "n",
                "requestId",
                "unavailable-" + UUID.randomUUID(),
                "parameters",
                Map.of()));
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    JsonNode view =
        await("generation " + id + " finished")
            .atMost(Duration.ofSeconds(120))
            .pollInterval(Duration.ofMillis(200))
            .until(
                () -> JSON.readTree(get("/api/generations/" + id).body()),
                v -> !List.of("QUEUED", "RUNNING").contains(v.path("status").asText()));
    assertThat(view.get("status").asText()).as(view.toString()).isEqualTo("SUCCEEDED");
  }

  private HttpResponse<String> post(Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
