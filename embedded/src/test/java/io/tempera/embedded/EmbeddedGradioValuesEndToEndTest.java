package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.gradio.GradioApp;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A Gradio endpoint that returns values and no file, end to end on the embedded system against the
 * real gradio running testkit's kinds_app.py: the generation succeeds with the endpoint's text or
 * label as {@code values} in the REST state, the SSE terminal event and the WebSocket's {@code
 * task_success}, and what the app told its user (gr.Warning, gr.Info) is in its warnings.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class EmbeddedGradioValuesEndToEndTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration WAIT = Duration.ofSeconds(120);
  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-e2e-values",
          Path.of("src/test/resources/templates/gradio-caption"),
          Path.of("src/test/resources/templates/gradio-classify"),
          Path.of("src/test/resources/templates/gradio-warn"));
  static GradioApp gradio;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;

  @BeforeAll
  static void startGradio() throws IOException {
    gradio =
        GradioApp.start(
            GradioApp.pythonForTest(5),
            GradioApp.script("kinds_app.py"),
            Map.of(),
            Duration.ofSeconds(180));
  }

  @AfterAll
  static void stopGradio() {
    if (gradio != null) {
      gradio.close();
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
    registry.add("tempera.worker.gradio-urls", () -> gradio.baseUrl().toString());
  }

  @Test
  void aTextEndpointSucceedsWithItsTextAsAValueInTheStateAndTheSseEnd() throws Exception {
    String id = start("gradio-caption", Map.of("prompt", "a red <b>cat</b>"));
    List<Map.Entry<String, JsonNode>> events = followEvents(id);
    Map.Entry<String, JsonNode> end = events.get(events.size() - 1);
    assertThat(end.getKey()).as("%s", end.getValue()).isEqualTo("succeeded");
    for (JsonNode view : List.of(end.getValue(), JSON.readTree(get("/api/generations/" + id)))) {
      assertThat(view.get("status").asText()).isEqualTo("SUCCEEDED");
      assertThat(view.get("outputs")).as("no file").isEmpty();
      JsonNode value = view.get("values").get(0);
      assertThat(view.get("values")).hasSize(1);
      assertThat(value.get("name").asText()).isEqualTo("caption");
      assertThat(value.get("kind").asText()).isEqualTo("text");
      assertThat(value.get("value").asText())
          .matches("A picture of a red <b>cat</b> \\(#[0-9a-f]{6}\\)");
    }
  }

  @Test
  void aLabelEndpointsConfidencesReachTheWebSocketsTaskSuccess() throws Exception {
    Socket ws = new Socket();
    WebSocket socket =
        http.newWebSocketBuilder()
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), ws)
            .get(10, TimeUnit.SECONDS);
    try {
      EmbeddedTestRoot.authenticate(ROOT, socket, ws.received);
      String requestId = "values-" + UUID.randomUUID();
      socket
          .sendText(
              JSON.writeValueAsString(
                  Map.of(
                      "type", "start_generation",
                      "functionId", "gradio-classify",
                      "tier", "draft",
                      "projectId", "project-values",
                      "nodeId", "node-1",
                      "requestId", requestId,
                      "parameters", Map.of("prompt", "a cat and a cat"))),
              true)
          .get(10, TimeUnit.SECONDS);
      JsonNode success = ws.next("task_success");
      assertThat(success.get("taskId").asText())
          .isEqualTo(EmbeddedTestRoot.generationId("project-values", requestId));
      assertThat(success.get("outputs")).isEmpty();
      JsonNode value = success.get("values").get(0);
      assertThat(value.get("name").asText()).isEqualTo("animal");
      assertThat(value.get("kind").asText()).isEqualTo("label");
      assertThat(value.at("/value/label").asText()).isEqualTo("cat");
      assertThat(value.at("/value/confidences"))
          .extracting(c -> c.get("label").asText())
          .containsExactlyInAnyOrder("cat", "dog", "bird");
    } finally {
      socket.abort();
    }
  }

  @Test
  void whatTheAppToldItsUserIsInTheWarnings() throws Exception {
    String id = start("gradio-warn", Map.of("prompt", "the dog"));
    List<Map.Entry<String, JsonNode>> events = followEvents(id);
    JsonNode end = events.get(events.size() - 1).getValue();
    assertThat(end.get("status").asText()).as("%s", end).isEqualTo("SUCCEEDED");
    assertThat(end.at("/values/0/value").asText()).isEqualTo("warned about the dog");
    assertThat(end.get("warnings"))
        .extracting(JsonNode::asText)
        .contains("Careful with the dog", "Working on the dog");
  }

  private String start(String function, Map<String, Object> parameters) throws Exception {
    Map<String, Object> body =
        Map.of(
            "functionId",
            function,
            "tier",
            "draft",
            "projectId",
            "project-values",
            "nodeId",
            "node-1",
            "requestId",
            "values-" + UUID.randomUUID(),
            "parameters",
            parameters);
    HttpResponse<String> started =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  private String get(String path) throws Exception {
    return http.send(
            EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  /** The generation's SSE events until the stream ends (after its terminal event). */
  private List<Map.Entry<String, JsonNode>> followEvents(String id) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(WAIT)
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    List<Map.Entry<String, JsonNode>> events = new java.util.ArrayList<>();
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      String event = "message";
      StringBuilder data = new StringBuilder();
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.startsWith("event:")) {
          event = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          data.append(line.substring(5).trim());
        } else if (line.isEmpty() && !data.isEmpty()) {
          events.add(Map.entry(event, JSON.readTree(data.toString())));
          data.setLength(0);
          event = "message";
        }
      }
    }
    assertThat(events).isNotEmpty();
    return events;
  }

  /** Queues every JSON message the server sends. */
  static final class Socket implements WebSocket.Listener {
    final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    final StringBuilder buffer = new StringBuilder();

    /** The next message of this type, skipping others (acknowledgement, state, progress). */
    JsonNode next(String type) throws InterruptedException {
      while (true) {
        JsonNode message = received.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(message).as("a %s within %s", type, WAIT).isNotNull();
        assertThat(message.get("type").asText())
            .as(message.toString())
            .isNotIn("error", "task_failed");
        if (message.get("type").asText().equals(type)) {
          return message;
        }
      }
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      buffer.append(data);
      if (last) {
        try {
          received.add(JSON.readTree(buffer.toString()));
        } catch (IOException e) {
          throw new IllegalStateException("not JSON: " + buffer, e);
        }
        buffer.setLength(0);
      }
      ws.request(1);
      return null;
    }
  }
}
