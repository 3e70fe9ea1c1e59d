package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Conformance of the canvas WebSocket protocol on {@code /ws}, with a real WebSocket client against
 * the embedded system: every client message type, every server message type, every error a client
 * can cause, and reconnect with resume (the socket is killed mid-run, a new one resubscribes with
 * lastEventIds: nothing seen is sent again, nothing is missed).
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      // small, so TOO_MANY_TASKS is reachable with a few real generations
      "tempera.canvas.max-followed-tasks=3"
    })
class CanvasWebSocketProtocolTest {

  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-ws",
          EmbeddedTestRoot.activitiesTemplate("slow-invert"),
          Path.of("src/test/resources/templates/failing-fault"));
  static final ObjectMapper JSON = new ObjectMapper();
  static final Duration WAIT = Duration.ofSeconds(60);

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final List<Client> clients = new ArrayList<>();

  @LocalServerPort int port;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  /** What the server sends, against ServerMessage of the committed JSON Schema of the protocol. */
  static final com.networknt.schema.Schema SERVER_MESSAGE = serverMessageSchema();

  /** Every message the server sent that its schema refuses, with why. */
  static final List<String> OFF_SCHEMA = java.util.Collections.synchronizedList(new ArrayList<>());

  static com.networknt.schema.Schema serverMessageSchema() {
    try (var in =
        CanvasWebSocketProtocolTest.class.getResourceAsStream(
            "/static/schemas/canvas-websocket.schema.json")) {
      var root = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(in);
      root.remove("$id");
      root.putArray("oneOf").addObject().put("$ref", "#/$defs/ServerMessage");
      return com.networknt.schema.SchemaRegistry.withDefaultDialect(
              com.networknt.schema.SpecificationVersion.DRAFT_2020_12)
          .getSchema(root.toString(), com.networknt.schema.InputFormat.JSON);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the canvas WebSocket's JSON Schema", e);
    }
  }

  @AfterEach
  void closeClients() {
    clients.forEach(Client::abort);
    List<String> off = List.copyOf(OFF_SCHEMA);
    OFF_SCHEMA.clear();
    assertThat(off).as("server messages the JSON Schema refuses").isEmpty();
  }

  // ------------------------------------------------------------------ the documents clients are
  // made from

  @Test
  void servesTheOpenApiDocumentWithTheServersEnumsAndTheProtocolsSchemaWithoutAKey()
      throws Exception {
    HttpResponse<String> doc =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v3/api-docs")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(doc.statusCode()).isEqualTo(200);
    JsonNode schemas = JSON.readTree(doc.body()).get("components").get("schemas");
    assertThat(JSON.convertValue(schemas.at("/Generation/properties/status/enum"), List.class))
        .isEqualTo(
            java.util.Arrays.stream(io.tempera.generation.GenerationStatus.values())
                .map(Enum::name)
                .toList());
    assertThat(JSON.convertValue(schemas.at("/Error/properties/code/enum"), List.class))
        .contains("UNAUTHENTICATED", "INVALID_PARAMETERS", "QUOTA_RUNNING", "PRIORITY_NOT_ALLOWED");
    assertThat(
            JSON.convertValue(schemas.at("/StartGeneration/properties/priority/enum"), List.class))
        .isEqualTo(List.of("urgent", "interactive", "normal", "low", "batch"));
    assertThat(JSON.readTree(doc.body()).get("paths").has("/api/generations/{id}")).isTrue();
    // records of the same simple name are documented apart (springdoc names a schema by it)
    assertThat(schemas.at("/Item/properties").has("startedAt")).as("the history's Item").isTrue();
    assertThat(schemas.at("/BatchItem/properties").has("index")).as("a batch's Item").isTrue();
    assertThat(schemas.at("/Accepted/properties").has("total")).isFalse();
    assertThat(schemas.at("/BatchAccepted/properties").has("total")).isTrue();
    assertThat(schemas.at("/Error/properties").has("problems")).isTrue();

    HttpResponse<String> ws =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + port + "/schemas/canvas-websocket.schema.json"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(ws.statusCode()).isEqualTo(200);
    try (var in = getClass().getResourceAsStream("/static/schemas/canvas-websocket.schema.json")) {
      assertThat(JSON.readTree(ws.body())).isEqualTo(JSON.readTree(in));
    }
  }

  // ------------------------------------------------------------------ the happy path, every field

  @Test
  void startGenerationAcknowledgesThenStreamsStateProgressAndSuccess() throws Exception {
    String image = upload("ws-conf");
    Client ws = connect();
    String requestId = "ws-conf-" + UUID.randomUUID();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "slow-invert",
            "tier",
            "high",
            "projectId",
            "ws-conf",
            "nodeId",
            "node-a",
            "requestId",
            requestId,
            "parameters",
            Map.of("image", image, "steps", 8)));

    JsonNode ack = ws.next();
    assertThat(ack.get("type").asText()).isEqualTo("task_acknowledged");
    assertThat(ack.get("taskId").asText())
        .isEqualTo(EmbeddedTestRoot.generationId("ws-conf", requestId));
    assertThat(ack.get("nodeId").asText()).isEqualTo("node-a");
    assertThat(ack.get("requestId").asText()).isEqualTo(requestId);
    assertThat(ack.get("status").asText()).isIn("queued", "running");
    String taskId = ack.get("taskId").asText();

    List<JsonNode> story = ws.untilTerminal(taskId);
    JsonNode first = story.get(0);
    assertThat(first.get("type").asText()).isEqualTo("task_state");
    assertThat(first.get("state").get("id").asText()).isEqualTo(taskId);
    assertThat(first.get("state").get("status").asText()).isIn("QUEUED", "RUNNING");

    List<JsonNode> progress =
        story.stream().filter(m -> m.get("type").asText().equals("task_progress")).toList();
    assertThat(progress).isNotEmpty();
    long previous = 0;
    for (JsonNode p : progress) {
      assertThat(p.get("taskId").asText()).isEqualTo(taskId);
      assertThat(p.get("eventId").asLong()).isGreaterThan(previous);
      previous = p.get("eventId").asLong();
      assertThat(p.get("progress").asDouble()).isBetween(0.0, 1.0);
      assertThat(p.get("message").isTextual()).isTrue();
      assertThat(p.get("phase").isTextual()).isTrue();
      assertThat(p.get("timestamp").asLong()).isPositive();
    }
    JsonNode stepped = progress.stream().filter(p -> p.has("step")).findFirst().orElseThrow();
    assertThat(stepped.get("totalSteps").asInt()).isEqualTo(8);
    assertThat(stepped.get("step").asInt()).isBetween(1, 8);
    assertThat(progress)
        .as("an ETA")
        .anyMatch(p -> p.path("etaSeconds").isInt() && p.get("etaSeconds").asInt() >= 0);
    JsonNode withPreview =
        progress.stream().filter(p -> p.has("previewUrl")).findFirst().orElseThrow();
    // a signed URL: it works without a key, as an <img> on the canvas loads it
    assertThat(withPreview.get("previewUrl").asText())
        .startsWith("/api/generations/" + taskId + "/preview?")
        .contains("expires=", "signature=");

    JsonNode success = story.get(story.size() - 1);
    assertThat(success.get("type").asText()).isEqualTo("task_success");
    assertThat(success.get("taskId").asText()).isEqualTo(taskId);
    assertThat(success.get("nodeId").asText()).isEqualTo("node-a");
    assertThat(success.get("tierUsed").asText()).isEqualTo("high");
    assertThat(success.get("fallbacks").isArray()).isTrue();
    assertThat(success.get("warnings").isArray()).isTrue();
    assertThat(success.get("eventId").asLong()).isGreaterThanOrEqualTo(previous);
    JsonNode output = success.get("outputs").get(0);
    assertThat(output.get("contentType").asText()).isEqualTo("image/png");
    assertThat(output.get("width").asInt()).isEqualTo(4);
    assertThat(output.get("height").asInt()).isEqualTo(4);
    HttpResponse<byte[]> png =
        http.send(
            HttpRequest.newBuilder(uri(output.get("url").asText())).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(png.statusCode()).isEqualTo(200);

    // the socket stays open and answers after the task ended
    ws.send(Map.of("type", "ping"));
    assertThat(ws.next().get("type").asText()).isEqualTo("pong");
  }

  @Test
  void nodeTypeIsAcceptedForFunctionIdAndARepeatedRequestIdGivesTheSameTask() throws Exception {
    Client ws = connect();
    String requestId = "ws-same-" + UUID.randomUUID();
    Map<String, Object> start =
        Map.of(
            "type",
            "start_generation",
            "nodeType",
            "generate-pattern",
            "tier",
            "draft",
            "projectId",
            "ws-conf",
            "nodeId",
            "node-b",
            "requestId",
            requestId,
            "parameters",
            Map.of("border", 4));
    ws.send(start);
    String taskId = ws.next(type("task_acknowledged")).get("taskId").asText();
    ws.send(start);
    assertThat(ws.next(type("task_acknowledged")).get("taskId").asText()).isEqualTo(taskId);
    JsonNode success = ws.next(type("task_success").and(task(taskId)));
    assertThat(success.at("/outputs/0/width").asInt()).isEqualTo(256 + 2 * 4);
  }

  @Test
  void aFailingBackendEndsInTaskFailedWithCodeMessageAndSuggestion() throws Exception {
    Client ws = connect();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "failing-fault",
            "projectId",
            "ws-conf",
            "nodeId",
            "node-f",
            "parameters",
            Map.of()));
    String taskId = ws.next(type("task_acknowledged")).get("taskId").asText();
    JsonNode failed = ws.next(type("task_failed").and(task(taskId)));
    assertThat(failed.get("nodeId").asText()).isEqualTo("node-f");
    assertThat(failed.get("code").asText()).isNotBlank().isNotEqualTo("CANCELLED");
    assertThat(failed.get("message").asText()).isNotBlank();
    assertThat(failed.get("suggestion").asText()).isNotBlank();
    assertThat(failed.has("action")).isTrue();
    assertThat(failed.get("outputs").isArray()).isTrue();
  }

  // ------------------------------------------------------------------ cancel, subscribe,
  // unsubscribe

  @Test
  void cancelGenerationEndsARunningTaskAsCancelled() throws Exception {
    String image = upload("ws-cancel");
    Client ws = connect();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "slow-invert",
            "projectId",
            "ws-cancel",
            "nodeId",
            "node-c",
            "parameters",
            Map.of("image", image, "steps", 400)));
    String taskId = ws.next(type("task_acknowledged")).get("taskId").asText();
    ws.next(type("task_progress").and(task(taskId)).and(m -> m.has("step")));

    ws.send(Map.of("type", "cancel_generation", "taskId", taskId));
    JsonNode failed =
        ws.next(m ->
            m.get("type").asText().startsWith("task_failed")
                && taskId.equals(m.path("taskId").asText()));
    assertThat(failed.get("code").asText()).isEqualTo("CANCELLED");
    assertThat(failed.get("message").asText()).isNotBlank();
    assertThat(failed.has("suggestion")).isTrue();
  }

  @Test
  void subscribeFollowsATaskStartedElsewhereAndUnsubscribeStopsIt() throws Exception {
    String image = upload("ws-sub");
    String taskId = startOverRest("ws-sub", image, 60);
    Client ws = connect();
    ws.send(Map.of("type", "subscribe", "taskIds", List.of(taskId)));
    JsonNode state = ws.next();
    assertThat(state.get("type").asText()).isEqualTo("task_state");
    assertThat(state.get("taskId").asText()).isEqualTo(taskId);
    ws.next(type("task_progress").and(task(taskId)));

    ws.send(Map.of("type", "unsubscribe", "taskIds", List.of(taskId)));
    // a ping after the unsubscribe: once its pong is in, no more events of the task may come
    ws.send(Map.of("type", "ping"));
    ws.next(type("pong"));
    JsonNode after = ws.poll(Duration.ofSeconds(2));
    while (after != null && after.get("type").asText().equals("task_progress")) {
      // events already on the wire when the unsubscribe arrived
      after = ws.poll(Duration.ofSeconds(2));
    }
    assertThat(after).as("nothing after unsubscribe").isNull();
    cancelOverRest(taskId);
  }

  @Test
  void aTaskThatEndedGetsItsTerminalMessageAtOnceOnSubscribe() throws Exception {
    Client ws = connect();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "generate-pattern",
            "tier",
            "draft",
            "projectId",
            "ws-conf",
            "nodeId",
            "node-d",
            "parameters",
            Map.of()));
    String taskId = ws.next(type("task_acknowledged")).get("taskId").asText();
    JsonNode success = ws.next(type("task_success").and(task(taskId)));

    Client later = connect();
    later.send(
        Map.of("type", "subscribe", "taskIds", List.of(taskId), "lastEventIds", Map.of(taskId, 0)));
    JsonNode replay = later.next();
    assertThat(replay.get("type").asText()).isEqualTo("task_success");
    assertThat(replay.get("outputs")).isEqualTo(success.get("outputs"));
  }

  // ------------------------------------------------------------------ reconnect with resume

  @Test
  void aKilledSocketResumesOnANewOneWithoutMissedOrRepeatedEvents() throws Exception {
    String image = upload("ws-resume");
    Client first = connect();
    first.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "slow-invert",
            "projectId",
            "ws-resume",
            "nodeId",
            "node-r",
            "parameters",
            Map.of("image", image, "steps", 40)));
    String taskId = first.next(type("task_acknowledged")).get("taskId").asText();
    Set<Long> seen = new HashSet<>();
    long lastSeen = 0;
    int steps = 0;
    int stepsBefore = 0;
    while (steps < 5) {
      JsonNode m = first.next(task(taskId));
      assertThat(m.get("type").asText()).as(m.toString()).isIn("task_state", "task_progress");
      if (m.get("type").asText().equals("task_progress")) {
        assertThat(seen.add(m.get("eventId").asLong())).isTrue();
        lastSeen = m.get("eventId").asLong();
        if (m.has("step")) {
          steps++;
          stepsBefore = m.get("step").asInt();
        }
      }
    }
    first.abort(); // the connection dies mid-run, without a close handshake

    Client second = connect();
    second.send(
        Map.of(
            "type",
            "subscribe",
            "taskIds",
            List.of(taskId),
            "lastEventIds",
            Map.of(taskId, lastSeen)));
    List<JsonNode> resumed = second.untilTerminal(taskId);
    JsonNode state = resumed.get(0);
    assertThat(state.get("type").asText()).isEqualTo("task_state");
    long snapshot = state.get("state").get("eventId").asLong();
    assertThat(snapshot)
        .as("the state covers what happened while disconnected")
        .isGreaterThanOrEqualTo(lastSeen);

    List<Long> live =
        resumed.stream()
            .filter(m -> m.get("type").asText().equals("task_progress"))
            .map(m -> m.get("eventId").asLong())
            .toList();
    assertThat(live).as("nothing seen before is sent again").noneMatch(seen::contains);
    long after = Math.max(lastSeen, snapshot);
    assertThat(live).allSatisfy(id -> assertThat(id).isGreaterThan(after));
    assertThat(live).as("no duplicates, in order").doesNotHaveDuplicates().isSorted();
    JsonNode end = resumed.get(resumed.size() - 1);
    assertThat(end.get("type").asText()).isEqualTo("task_success");
    // the run went on where the first socket left it: steps in order, none older than one seen
    // (a step's preview repeats its step count)
    List<Integer> stepsAfter =
        resumed.stream().filter(m -> m.has("step")).map(m -> m.get("step").asInt()).toList();
    assertThat(stepsAfter).isNotEmpty().isSorted();
    assertThat(stepsAfter.get(0)).isGreaterThanOrEqualTo(stepsBefore);
    assertThat(stepsAfter.get(stepsAfter.size() - 1)).isGreaterThan(stepsBefore);
  }

  // ------------------------------------------------------------------ every error, and the socket
  // stays open

  @Test
  void everyMalformedMessageGetsAnErrorWithACodeAndTheSocketStaysOpen() throws Exception {
    Client ws = connect();
    assertError(ws, "{not json", "INVALID_JSON");
    assertError(ws, "[1,2,3]", "INVALID_MESSAGE");
    assertError(ws, "{\"taskIds\":[]}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":42}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"launch_rocket\"}", "UNKNOWN_MESSAGE_TYPE");
    assertError(ws, "{\"type\":\"cancel_generation\"}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"subscribe\"}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"subscribe\",\"taskIds\":[]}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"subscribe\",\"taskIds\":[{\"id\":1}]}", "INVALID_MESSAGE");
    assertError(
        ws,
        "{\"type\":\"subscribe\",\"taskIds\":[\"gen-x\"],\"lastEventIds\":[1]}",
        "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"unsubscribe\"}", "INVALID_MESSAGE");
    assertError(ws, "{\"type\":\"unsubscribe\",\"taskIds\":\"gen-x\"}", "INVALID_MESSAGE");
    String big = "{\"type\":\"ping\",\"pad\":\"" + "x".repeat(300_000) + "\"}";
    assertError(ws, big, "MESSAGE_TOO_LARGE");

    ws.socket
        .sendBinary(ByteBuffer.wrap("{\"type\":\"ping\"}".getBytes(StandardCharsets.UTF_8)), true)
        .get(10, TimeUnit.SECONDS);
    assertThat(ws.next().get("code").asText()).isEqualTo("INVALID_MESSAGE");

    // a protocol-level ping is answered by a pong frame, not by an error message
    int pongs = ws.pongs.get();
    ws.socket.sendPing(ByteBuffer.wrap(new byte[] {1, 2, 3})).get(10, TimeUnit.SECONDS);
    ws.send(Map.of("type", "ping"));
    assertThat(ws.next().get("type").asText())
        .as("no error message for a ping frame")
        .isEqualTo("pong");
    await("a pong frame").atMost(WAIT).until(() -> ws.pongs.get() > pongs);

    assertThat(ws.socket.isInputClosed()).as("the socket is still open").isFalse();
  }

  @Test
  void refusedStartsAnswerWithTheRequestsNodeIdAndRequestId() throws Exception {
    Client ws = connect();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "nope",
            "projectId",
            "p",
            "nodeId",
            "n1",
            "requestId",
            "r-unknown"));
    JsonNode unknown = ws.next();
    assertThat(unknown.get("type").asText()).isEqualTo("error");
    assertThat(unknown.get("code").asText()).isEqualTo("UNKNOWN_FUNCTION");
    assertThat(unknown.get("nodeId").asText()).isEqualTo("n1");
    assertThat(unknown.get("requestId").asText()).isEqualTo("r-unknown");

    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "generate-pattern",
            "projectId",
            "p",
            "nodeId",
            "n2",
            "parameters",
            Map.of("blur", 99, "shape", "star")));
    JsonNode badParameters = ws.next();
    assertThat(badParameters.get("code").asText()).isEqualTo("INVALID_PARAMETERS");
    assertThat(badParameters.get("problems")).hasSize(2);
    assertThat(badParameters.get("problems").get(0).get("field").isTextual()).isTrue();

    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "generate-pattern",
            "projectId",
            "../etc",
            "nodeId",
            "",
            "parameters",
            Map.of()));
    JsonNode badIds = ws.next();
    assertThat(badIds.get("code").asText()).isEqualTo("INVALID_REQUEST");
    assertThat(badIds.get("problems").size()).isGreaterThanOrEqualTo(2);

    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "generate-pattern",
            "projectId",
            "p",
            "nodeId",
            "n3",
            "parameters",
            List.of(1, 2)));
    assertThat(ws.next().get("code").asText()).isEqualTo("INVALID_REQUEST");

    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "invert",
            "projectId",
            "p",
            "nodeId",
            "n4",
            "parameters",
            Map.of("image", "uploads/none.png")));
    JsonNode missingFile = ws.next();
    assertThat(missingFile.get("code").asText()).isEqualTo("INVALID_PARAMETERS");
    assertThat(missingFile.toString()).contains("FILE_NOT_FOUND");

    String requestId = "ws-reuse-" + UUID.randomUUID();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "generate-pattern",
            "tier",
            "draft",
            "projectId",
            "p",
            "nodeId",
            "n5",
            "requestId",
            requestId,
            "parameters",
            Map.of()));
    String taskId = ws.next(type("task_acknowledged")).get("taskId").asText();
    ws.send(
        Map.of(
            "type",
            "start_generation",
            "functionId",
            "framed-color",
            "projectId",
            "p",
            "nodeId",
            "n5",
            "requestId",
            requestId,
            "parameters",
            Map.of()));
    JsonNode reused = ws.next(type("error"));
    assertThat(reused.get("code").asText()).isEqualTo("REQUEST_ID_REUSED");
    assertThat(reused.get("requestId").asText()).isEqualTo(requestId);
    ws.next(type("task_success").and(task(taskId)));
  }

  @Test
  void unknownTasksAreNotFoundWithTheirTaskId() throws Exception {
    Client ws = connect();
    ws.send(Map.of("type", "subscribe", "taskIds", List.of("gen-no-such-task")));
    JsonNode notFound = ws.next();
    assertThat(notFound.get("type").asText()).isEqualTo("error");
    assertThat(notFound.get("code").asText()).isEqualTo("NOT_FOUND");
    assertThat(notFound.get("taskId").asText()).isEqualTo("gen-no-such-task");

    ws.send(Map.of("type", "cancel_generation", "taskId", "gen-no-such-task-either"));
    JsonNode cancelNotFound = ws.next();
    assertThat(cancelNotFound.get("code").asText()).isEqualTo("NOT_FOUND");
    assertThat(cancelNotFound.get("taskId").asText()).isEqualTo("gen-no-such-task-either");
  }

  @Test
  void aConnectionFollowsAtMostTheConfiguredNumberOfTasks() throws Exception {
    String image = upload("ws-many");
    List<String> running = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      running.add(startOverRest("ws-many", image, 400));
    }
    Client ws = connect();
    ws.send(Map.of("type", "subscribe", "taskIds", running.subList(0, 3)));
    for (int i = 0; i < 3; i++) {
      ws.next(type("task_state"));
    }
    // following one of them again is not a new follow
    ws.send(Map.of("type", "subscribe", "taskIds", List.of(running.get(0))));
    ws.send(Map.of("type", "subscribe", "taskIds", List.of(running.get(3))));
    JsonNode tooMany = ws.next(type("error"));
    assertThat(tooMany.get("code").asText()).isEqualTo("TOO_MANY_TASKS");
    assertThat(tooMany.get("taskId").asText()).isEqualTo(running.get(3));
    running.forEach(this::cancelOverRest);
  }

  @Test
  void aSocketThatDoesNotAuthenticateFirstIsRefusedAndClosed() throws Exception {
    Client ws = connectWithoutAuthenticating();
    ws.send(Map.of("type", "ping"));
    JsonNode refused = ws.next();
    assertThat(refused.get("type").asText()).isEqualTo("error");
    assertThat(refused.get("code").asText()).isEqualTo("UNAUTHENTICATED");
    assertThat(refused.get("message").asText()).isNotBlank();
    assertThat(ws.closed.get(30, TimeUnit.SECONDS)).as("policy violation").isEqualTo(1008);

    Client wrongKey = connectWithoutAuthenticating();
    wrongKey.send(Map.of("type", "authenticate", "key", "tpk_000000000000_" + "x".repeat(43)));
    assertThat(wrongKey.next().get("code").asText()).isEqualTo("UNAUTHENTICATED");
    assertThat(wrongKey.closed.get(30, TimeUnit.SECONDS)).isEqualTo(1008);
  }

  @Test
  void theKeyMayComeOnTheUpgradeRequestInstead() throws Exception {
    Client client = new Client();
    client.socket =
        http.newWebSocketBuilder()
            .header("Authorization", "Bearer " + EmbeddedTestRoot.key(ROOT))
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), client)
            .get(10, TimeUnit.SECONDS);
    clients.add(client);
    client.send(Map.of("type", "ping"));
    assertThat(client.next().get("type").asText()).isEqualTo("pong");
  }

  // ------------------------------------------------------------------ helpers

  private void assertError(Client ws, String text, String code) throws Exception {
    ws.sendText(text);
    JsonNode reply = ws.next();
    assertThat(reply.get("type").asText())
        .as(text.length() > 80 ? text.substring(0, 80) : text)
        .isEqualTo("error");
    assertThat(reply.get("code").asText())
        .as(text.length() > 80 ? text.substring(0, 80) : text)
        .isEqualTo(code);
    assertThat(reply.get("message").asText()).isNotBlank();
  }

  private static Predicate<JsonNode> type(String type) {
    return m -> type.equals(m.path("type").asText());
  }

  private static Predicate<JsonNode> task(String taskId) {
    return m -> taskId.equals(m.path("taskId").asText());
  }

  /** A socket authenticated with the test root's (operator) key. */
  private Client connect() throws Exception {
    Client client = connectWithoutAuthenticating();
    EmbeddedTestRoot.authenticate(ROOT, client.socket, client.received);
    return client;
  }

  private Client connectWithoutAuthenticating() throws Exception {
    Client client = new Client();
    client.socket =
        http.newWebSocketBuilder()
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), client)
            .get(10, TimeUnit.SECONDS);
    clients.add(client);
    return client;
  }

  private String startOverRest(String project, String image, int steps) throws Exception {
    HttpResponse<String> started =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations"))
                .header("content-type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(
                            Map.of(
                                "functionId",
                                "slow-invert",
                                "projectId",
                                project,
                                "nodeId",
                                "n",
                                "parameters",
                                Map.of("image", image, "steps", steps)))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  private void cancelOverRest(String taskId) {
    try {
      http.send(
          EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + taskId + "/cancel"))
              .POST(HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.discarding());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        ROOT, http, uri("/api/projects/" + project + "/uploads"), "image/png");
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  /** A WebSocket client that queues every JSON message it receives. */
  static final class Client implements WebSocket.Listener {
    final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    final AtomicInteger pongs = new AtomicInteger();
    final StringBuilder buffer = new StringBuilder();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    WebSocket socket;

    void send(Map<String, ?> message) throws Exception {
      sendText(JSON.writeValueAsString(message));
    }

    void sendText(String text) throws Exception {
      socket.sendText(text, true).get(10, TimeUnit.SECONDS);
    }

    JsonNode poll(Duration timeout) throws InterruptedException {
      return received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    JsonNode next() throws InterruptedException {
      JsonNode message = poll(WAIT);
      assertThat(message).as("a message within " + WAIT).isNotNull();
      return message;
    }

    /** The next message that matches, skipping others. */
    JsonNode next(Predicate<JsonNode> wanted) throws InterruptedException {
      while (true) {
        JsonNode message = next();
        if (wanted.test(message)) return message;
      }
    }

    /** Every message of the task up to and including its terminal one. */
    List<JsonNode> untilTerminal(String taskId) throws InterruptedException {
      List<JsonNode> story = new ArrayList<>();
      while (true) {
        JsonNode message = next(task(taskId));
        assertThat(message.get("type").asText()).as(message.toString()).isNotEqualTo("error");
        story.add(message);
        String type = message.get("type").asText();
        if (type.equals("task_success") || type.equals("task_failed")) return story;
      }
    }

    void abort() {
      if (socket != null) socket.abort();
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      buffer.append(data);
      if (last) {
        try {
          JsonNode message = JSON.readTree(buffer.toString());
          var errors = SERVER_MESSAGE.validate(message);
          if (!errors.isEmpty()) {
            OFF_SCHEMA.add(message + ": " + errors);
          }
          received.add(message);
        } catch (IOException e) {
          throw new IllegalStateException(
              "the server sent something that is not JSON: " + buffer, e);
        }
        buffer.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
      pongs.incrementAndGet();
      ws.request(1);
      return CompletableFuture.completedFuture(null);
    }
  }
}
