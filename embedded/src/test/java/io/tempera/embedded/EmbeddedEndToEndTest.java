package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestImages;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The whole embedded system through HTTP, as the canvas uses it. */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class EmbeddedEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create("tempera-e2e", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;
  @Autowired ComfyUiTestServer comfy;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void uploadGenerateFollowAndDownloadTheInvertedImage() throws Exception {
    String path = upload("project-e2e");
    assertThat(path).startsWith("uploads/").endsWith(".png");

    String requestId = "e2e-" + UUID.randomUUID();
    Map<String, Object> body =
        Map.of(
            "functionId",
            "invert",
            "tier",
            "standard",
            "projectId",
            "project-e2e",
            "nodeId",
            "node-1",
            "requestId",
            requestId,
            "parameters",
            Map.of("image", path));
    HttpResponse<String> started = post("/api/generations", body);
    assertThat(started.statusCode()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    assertThat(id).isEqualTo(EmbeddedTestRoot.generationId("project-e2e", requestId));

    // a retried POST with the same requestId finds the same generation
    HttpResponse<String> again = post("/api/generations", body);
    assertThat(again.statusCode()).isEqualTo(202);
    assertThat(JSON.readTree(again.body()).get("id").asText()).isEqualTo(id);

    List<Map.Entry<String, JsonNode>> events = followEvents(id);
    assertThat(events.get(0).getKey()).isIn("state", "succeeded");
    Map.Entry<String, JsonNode> last = events.get(events.size() - 1);
    assertThat(last.getKey()).isEqualTo("succeeded");
    assertThat(last.getValue().get("status").asText()).isEqualTo("SUCCEEDED");

    // a client that connects after the end gets the final state at once
    List<Map.Entry<String, JsonNode>> late = followEvents(id);
    assertThat(late).singleElement().satisfies(e -> assertThat(e.getKey()).isEqualTo("succeeded"));

    JsonNode view = JSON.readTree(get("/api/generations/" + id).body());
    assertThat(view.get("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(view.get("progress").asDouble()).isEqualTo(1.0);
    JsonNode output = view.get("outputs").get(0);
    assertThat(output.get("contentType").asText()).isEqualTo("image/png");

    HttpResponse<byte[]> png =
        http.send(
            HttpRequest.newBuilder(uri(output.get("url").asText())).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(png.statusCode()).isEqualTo(200);
    assertThat(png.headers().firstValue("content-type")).hasValue("image/png");
    assertThat(
            TestImages.isInverted(
                TestImages.sample(), ImageIO.read(new ByteArrayInputStream(png.body()))))
        .isTrue();
    try (Stream<Path> rendered =
        Files.list(ROOT.resolve("outputs/project-e2e/outputs/renders/node-1"))) {
      assertThat(rendered.count()).isEqualTo(1);
    }
    assertThat(comfy.promptPostCount()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void cancellingThroughTheApiInterruptsTheBackend() throws Exception {
    String path = upload("project-cancel");
    HttpResponse<String> started =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "slow-invert",
                "projectId",
                "project-cancel",
                "nodeId",
                "n",
                "parameters",
                Map.of("image", path, "steps", 400)));
    assertThat(started.statusCode()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    int interruptsBefore = comfy.interruptCount();

    // follow until the run reports a step (each step is followed at once by its preview, which
    // carries no step: polling the state would rarely catch a step)
    List<Map.Entry<String, JsonNode>> running =
        followEvents(id, e -> e.getKey().equals("progress") && e.getValue().has("step"));
    JsonNode stepped = running.get(running.size() - 1).getValue();
    assertThat(stepped.get("message").asText()).startsWith("Slowly inverting your image (step ");
    assertThat(JSON.readTree(get("/api/generations/" + id).body()).get("status").asText())
        .isEqualTo("RUNNING");
    // the running generation's workflow waits in the worker's cache on a virtual thread, not on a
    // platform thread of its own (getAllStackTraces lists platform threads only)
    assertThat(Thread.getAllStackTraces().keySet())
        .extracting(Thread::getName)
        .noneMatch(name -> name.startsWith("workflow-method-" + id));

    assertThat(post("/api/generations/" + id + "/cancel", Map.of()).statusCode()).isEqualTo(202);
    List<Map.Entry<String, JsonNode>> events = followEvents(id);
    Map.Entry<String, JsonNode> last = events.get(events.size() - 1);
    assertThat(last.getKey()).isEqualTo("cancelled");
    assertThat(last.getValue().get("error").get("code").asText()).isEqualTo("CANCELLED");
    // the run is stopped on the backend by the cancelled attempt and the workflow's cleanup, which
    // may finish just after the end is told
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(comfy.interruptCount()).isGreaterThan(interruptsBefore));
  }

  @Test
  void aReconnectingSseClientResumesAfterItsLastEventIdWithoutDuplicates() throws Exception {
    String path = upload("project-resume");
    HttpResponse<String> started =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "slow-invert",
                "projectId",
                "project-resume",
                "nodeId",
                "n",
                "parameters",
                Map.of("image", path, "steps", 30)));
    String id = JSON.readTree(started.body()).get("id").asText();

    // first connection: read until a few step events arrived, then drop it
    long lastSeen = 0;
    HttpResponse<java.io.InputStream> first =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events")).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(first.body(), StandardCharsets.UTF_8))) {
      int steps = 0;
      String line;
      while (steps < 3 && (line = reader.readLine()) != null) {
        if (line.startsWith("id:")) {
          lastSeen = Long.parseLong(line.substring(3).trim());
        } else if (line.startsWith("data:") && line.contains("\"step\"")) {
          steps++;
        }
      }
    }
    assertThat(lastSeen).isPositive();

    HttpResponse<java.io.InputStream> resumed =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("Last-Event-ID", Long.toString(lastSeen))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    List<String> eventNames = new ArrayList<>();
    List<Long> ids = new ArrayList<>();
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(resumed.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.startsWith("event:")) {
          eventNames.add(line.substring(6).trim());
        } else if (line.startsWith("id:")) {
          ids.add(Long.parseLong(line.substring(3).trim()));
        }
        if (line.startsWith("event:succeeded")) {
          break;
        }
      }
    }
    assertThat(eventNames.get(0)).as("the current state comes first").isEqualTo("state");
    assertThat(eventNames.get(eventNames.size() - 1)).isEqualTo("succeeded");
    List<Long> liveIds = ids.subList(1, ids.size() - 1);
    final long seen = lastSeen;
    assertThat(liveIds)
        .as("nothing at or before Last-Event-ID again")
        .allSatisfy(i -> assertThat(i).isGreaterThan(seen));
    assertThat(liveIds).as("no duplicates, in order").doesNotHaveDuplicates().isSorted();
  }

  @Test
  void badRequestsGetClearErrorsNeverA500() throws Exception {
    HttpResponse<String> unknown =
        post(
            "/api/generations",
            Map.of("functionId", "nope", "projectId", "p", "nodeId", "n", "parameters", Map.of()));
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(unknown.body()).get("code").asText()).isEqualTo("UNKNOWN_FUNCTION");

    HttpResponse<String> badParams =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "generate-pattern",
                "projectId",
                "p",
                "nodeId",
                "n",
                "parameters",
                Map.of("blur", 99, "shape", "star")));
    assertThat(badParams.statusCode()).isEqualTo(422);
    JsonNode error = JSON.readTree(badParams.body());
    assertThat(error.get("code").asText()).isEqualTo("INVALID_PARAMETERS");
    assertThat(error.get("problems")).hasSize(2);

    HttpResponse<String> missingFile =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "invert",
                "projectId",
                "p",
                "nodeId",
                "n",
                "parameters",
                Map.of("image", "uploads/none.png")));
    assertThat(missingFile.statusCode()).isEqualTo(422);
    assertThat(missingFile.body()).contains("FILE_NOT_FOUND");

    HttpResponse<String> badIds =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "invert",
                "projectId",
                "../etc",
                "nodeId",
                "",
                "requestId",
                "a b",
                "parameters",
                Map.of()));
    assertThat(badIds.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(badIds.body()).get("problems")).hasSize(3);

    HttpResponse<String> malformed =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"functionId\": "))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(malformed.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(malformed.body()).get("code").asText()).isEqualTo("INVALID_BODY");

    HttpResponse<String> missing = get("/api/generations/gen-does-not-exist");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(get("/api/generations/not-a-generation").statusCode()).isEqualTo(404);

    HttpResponse<String> notAnImage =
        http.send(
            EmbeddedTestRoot.multipart(
                ROOT,
                uri("/api/projects/p/uploads"),
                "x.png",
                "application/octet-stream",
                "hello".getBytes(StandardCharsets.UTF_8)),
            HttpResponse.BodyHandlers.ofString());
    assertThat(notAnImage.statusCode()).isEqualTo(415);
    assertThat(notAnImage.body()).contains("UNSUPPORTED_FILE");
  }

  @Test
  void listsTheFunctionsWithTheirParameterSchemas() throws Exception {
    JsonNode functions = JSON.readTree(get("/api/functions").body());
    List<String> ids = new ArrayList<>();
    functions.forEach(f -> ids.add(f.get("id").asText()));
    assertThat(ids).contains("invert", "generate-pattern");
    JsonNode pattern = JSON.readTree(get("/api/functions/generate-pattern").body());
    assertThat(pattern.get("displayName").asText()).isEqualTo("Generate Pattern");
    assertThat(pattern.get("tiers")).hasSize(4);
    assertThat(pattern.at("/parameterSchema/properties/blur/maximum").asDouble()).isEqualTo(31.0);
    assertThat(get("/").body()).contains("<title>Tempera");
  }

  @Test
  void theCanvasWebSocketProtocolRunsAGenerationAndSurvivesBadMessages() throws Exception {
    String path = upload("project-ws");
    java.util.concurrent.LinkedBlockingQueue<JsonNode> received =
        new java.util.concurrent.LinkedBlockingQueue<>();
    java.net.http.WebSocket socket =
        http.newWebSocketBuilder()
            .buildAsync(
                URI.create("ws://127.0.0.1:" + port + "/ws"),
                new java.net.http.WebSocket.Listener() {
                  final StringBuilder buffer = new StringBuilder();

                  @Override
                  public java.util.concurrent.CompletionStage<?> onText(
                      java.net.http.WebSocket ws, CharSequence data, boolean last) {
                    buffer.append(data);
                    if (last) {
                      try {
                        received.add(JSON.readTree(buffer.toString()));
                      } catch (IOException e) {
                        throw new IllegalStateException(e);
                      }
                      buffer.setLength(0);
                    }
                    ws.request(1);
                    return null;
                  }
                })
            .get(10, java.util.concurrent.TimeUnit.SECONDS);
    EmbeddedTestRoot.authenticate(ROOT, socket, received);

    socket.sendText("{not json", true).get();
    JsonNode bad = received.poll(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(bad.get("type").asText()).isEqualTo("error");
    assertThat(bad.get("code").asText()).isEqualTo("INVALID_JSON");

    socket.sendText("{\"type\":\"launch_rocket\"}", true).get();
    assertThat(received.poll(10, java.util.concurrent.TimeUnit.SECONDS).get("code").asText())
        .isEqualTo("UNKNOWN_MESSAGE_TYPE");

    socket
        .sendText(
            JSON.writeValueAsString(
                Map.of(
                    "type",
                    "start_generation",
                    "nodeType",
                    "nope",
                    "projectId",
                    "p",
                    "nodeId",
                    "n")),
            true)
        .get();
    JsonNode unknown = received.poll(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(unknown.get("code").asText()).isEqualTo("UNKNOWN_FUNCTION");
    assertThat(unknown.get("nodeId").asText()).isEqualTo("n");

    socket
        .sendText(
            JSON.writeValueAsString(
                Map.of(
                    "type",
                    "start_generation",
                    "functionId",
                    "invert",
                    "projectId",
                    "project-ws",
                    "nodeId",
                    "node-ws",
                    "tier",
                    "draft",
                    "requestId",
                    "ws-" + UUID.randomUUID(),
                    "parameters",
                    Map.of("image", path))),
            true)
        .get();
    JsonNode ack = received.poll(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(ack.get("type").asText()).isEqualTo("task_acknowledged");
    assertThat(ack.get("nodeId").asText()).isEqualTo("node-ws");
    String taskId = ack.get("taskId").asText();

    List<JsonNode> messages = new ArrayList<>();
    JsonNode message;
    do {
      message = received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(message).as("a message before the task ended").isNotNull();
      messages.add(message);
    } while (!message.get("type").asText().startsWith("task_success")
        && !message.get("type").asText().equals("task_failed"));
    assertThat(message.get("type").asText()).as(message.toString()).isEqualTo("task_success");
    assertThat(message.get("taskId").asText()).isEqualTo(taskId);
    assertThat(message.get("tierUsed").asText()).isEqualTo("draft");
    assertThat(message.at("/outputs/0/width").asInt()).isEqualTo(2); // draft halves the 4x4 input
    assertThat(messages.get(0).get("type").asText())
        .isIn("task_state", "task_progress", "task_success");
    long[] lastId = {0};
    messages.stream()
        .filter(m -> m.get("type").asText().equals("task_progress"))
        .forEach(m -> {
          assertThat(m.get("eventId").asLong()).isGreaterThan(lastId[0]);
          lastId[0] = m.get("eventId").asLong();
        });

    // a later subscriber (a reconnecting canvas) gets the final state at once
    socket
        .sendText(
            JSON.writeValueAsString(Map.of("type", "subscribe", "taskIds", List.of(taskId))), true)
        .get();
    JsonNode replay = received.poll(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(replay.get("type").asText()).isEqualTo("task_success");
    socket.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "done").get();
  }

  // --- helpers ---

  private String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        ROOT, http, uri("/api/projects/" + project + "/uploads"), "application/octet-stream");
  }

  private List<Map.Entry<String, JsonNode>> followEvents(String id) throws Exception {
    return followEvents(id, e -> false);
  }

  /** The generation's SSE events until the stream ends or {@code until} holds for one. */
  private List<Map.Entry<String, JsonNode>> followEvents(
      String id, java.util.function.Predicate<Map.Entry<String, JsonNode>> until) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    List<Map.Entry<String, JsonNode>> events = new ArrayList<>();
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
          if (until.test(events.get(events.size() - 1))) {
            break;
          }
        }
      }
    }
    return events;
  }

  private HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
