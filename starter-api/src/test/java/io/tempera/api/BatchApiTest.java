package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.OutputRef;
import io.temporal.client.WorkflowClient;
import io.temporal.worker.WorkerFactory;
import io.temporal.workflow.Workflow;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Batches through the API: a sweep times new seeds is accepted (202) and runs to COMPLETED, every
 * variation's generation with its sweep value and a seed of its own, listed page by page; a batch
 * too large, one whose variations would not differ, one sweeping an unknown parameter are refused
 * (422), so is a project at its queued quota (429 with Retry-After); another project's key is
 * answered 404; cancel cancels the generations in flight and the batch ends CANCELLED. The batch
 * workflow runs on the API's own worker (tempera-batches, admitting under the quotas); its
 * generations are a stand-in that ends at once (or, with blur 31, when cancelled).
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=target/batch-templates",
      "tempera.output-root=target/batch-outputs",
      "tempera.batches.max-size=50",
      "tempera.batches.max-in-flight=3",
      "tempera.quotas.projects.full.max-queued=0"
    })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BatchApiTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final long MAX = 16_777_215;

  static {
    Path dir = Path.of("target", "batch-templates", "functions", "swept");
    try {
      // ended generations' records of an earlier run (the same batch ids) are not read back
      org.springframework.util.FileSystemUtils.deleteRecursively(
          Path.of("target", "batch-outputs"));
      Files.createDirectories(dir);
      Files.copy(
          Path.of("..", "templates", "functions", "generate-pattern", "pattern.graph.json"),
          dir.resolve("pattern.graph.json"),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(
          dir.resolve("template.json"),
          """
          {
            "id": "swept",
            "version": "1.0.0",
            "display_name": "Swept",
            "category": "generation",
            "description": "A colour field (its seed) blurred",
            "backend": { "type": "comfyui", "graph": "pattern.graph.json" },
            "parameters": {
              "seed": { "type": "integer", "random": true, "min": 0, "max": %d,
                        "description": "left out, a new random one" },
              "blur": { "type": "integer", "default": 4, "min": 0, "max": 31,
                        "description": "blur radius" }
            },
            "parameter_mapping": [
              { "parameter": "seed", "type": "direct", "target": "1.inputs.color" },
              { "parameter": "blur", "type": "direct", "target": "3.inputs.blur_radius" }
            ],
            "quality_parameters": { "draft": {}, "standard": {}, "high": {}, "ultra": {} }
          }
          """
              .formatted(MAX));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Autowired io.tempera.security.ApiKeyStore keys;
  @Autowired WorkflowClient client;
  @Autowired BatchFeed feed;
  @LocalServerPort int port;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  WorkerFactory workers;

  /**
   * Ends at once, SUCCEEDED with an output, its request's parameters kept; with blur 31 it waits
   * until cancelled.
   */
  public static class StandIn extends EndsAtOnce {

    @Override
    public GenerationResult run(GenerationRequest request) {
      if (Integer.valueOf(31).equals(request.parameters().get("blur"))) {
        Workflow.await(() -> false);
      }
      result =
          new GenerationResult(
              Workflow.getInfo().getWorkflowId(),
              GenerationStatus.SUCCEEDED,
              1.0,
              request.functionId(),
              "1.0.0",
              request.projectId(),
              request.nodeId(),
              request.tier(),
              request.tier(),
              List.of(new OutputRef("out.png", "p/out.png", "image/png", 10, 1, 1)),
              null,
              List.of(),
              List.of(),
              null,
              null,
              List.of(),
              request.parameters());
      return result;
    }
  }

  @BeforeAll
  void startTheStandIn() {
    workers = WorkerFactory.newInstance(client);
    workers
        .newWorker(
            GenerationService.taskQueueFor(
                new GenerationRequest("swept", "standard", null, "p", "n", null)))
        .registerWorkflowImplementationTypes(StandIn.class);
    workers.start();
  }

  @AfterAll
  void stopWorkers() {
    if (workers != null) {
      workers.shutdownNow();
    }
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private HttpResponse<String> post(String project, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri("/api/batches"))
            .header("Authorization", "Bearer " + TestKeys.project(keys, project))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String project, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri(path))
            .header("Authorization", "Bearer " + TestKeys.project(keys, project))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String batch(String project, String more) {
    return "{\"functionId\":\"swept\",\"projectId\":\""
        + project
        + "\",\"nodeId\":\"n\",\"tier\":\"standard\""
        + more
        + "}";
  }

  private String started(String project, String more) throws Exception {
    HttpResponse<String> response = post(project, batch(project, more));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    JsonNode accepted = JSON.readTree(response.body());
    assertThat(response.headers().firstValue("Location"))
        .hasValue("/api/batches/" + accepted.get("id").asText());
    return accepted.get("id").asText();
  }

  private JsonNode until(String project, String path, String status) {
    return await("batch " + status)
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(
            () -> JSON.readTree(get(project, path).body()),
            state -> state.path("status").asText().equals(status));
  }

  @Test
  void aSweepTimesNewSeedsRunsEveryVariationAndListsThemPageByPage() throws Exception {
    String id = started("p", ",\"count\":3,\"sweep\":{\"blur\":[1,2,3]},\"requestId\":\"sweep-1\"");
    assertThat(id).startsWith("batch-").endsWith("-sweep-1");

    JsonNode end = until("p", "/api/batches/" + id + "?offset=0&limit=4", "COMPLETED");
    assertThat(end.path("progress").path("total").asInt()).isEqualTo(9);
    assertThat(end.path("progress").path("succeeded").asInt()).isEqualTo(9);
    assertThat(end.path("progress").path("failed").asInt()).isZero();
    assertThat(end.path("progress").path("waiting").asInt()).isZero();
    assertThat(end.path("priority").asText()).isEqualTo("batch");
    assertThat(end.path("maxInFlight").asInt()).isEqualTo(3);
    assertThat(end.path("sweep").path("blur")).hasSize(3);
    JsonNode page = end.path("results");
    assertThat(page.path("total").asInt()).isEqualTo(9);
    assertThat(page.path("items")).hasSize(4);
    JsonNode first = page.path("items").get(0);
    assertThat(first.path("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(first.path("parameters").path("blur").asInt()).isEqualTo(1);
    assertThat(first.path("outputs").get(0).path("url").asText())
        .startsWith("/api/generations/" + first.path("generationId").asText() + "/outputs/out.png");
    assertThat(page.path("items").get(3).path("parameters").path("blur").asInt()).isEqualTo(2);

    // every variation: its own seed, within bounds, and its generation readable as any other
    Set<Long> seeds = new HashSet<>();
    JsonNode all = JSON.readTree(get("p", "/api/batches/" + id + "?offset=0&limit=500").body());
    for (JsonNode item : all.path("results").path("items")) {
      long seed = item.path("parameters").path("seed").asLong(-1);
      assertThat(seed).isBetween(0L, MAX);
      seeds.add(seed);
    }
    assertThat(seeds).hasSize(9);
    JsonNode generation =
        JSON.readTree(
            get(
                    "p",
                    "/api/generations/"
                        + all.path("results").path("items").get(8).path("generationId").asText())
                .body());
    assertThat(generation.path("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(generation.path("parameters").path("blur").asInt()).isEqualTo(3);
    assertThat(generation.path("parameters").path("seed").asLong())
        .isEqualTo(
            all.path("results").path("items").get(8).path("parameters").path("seed").asLong());

    JsonNode offset = JSON.readTree(get("p", "/api/batches/" + id + "?offset=8&limit=4").body());
    assertThat(offset.path("results").path("items")).hasSize(1);
    assertThat(offset.path("results").path("items").get(0).path("index").asInt()).isEqualTo(8);

    // the same requestId again: the same batch
    HttpResponse<String> again =
        post(
            "p", batch("p", ",\"count\":3,\"sweep\":{\"blur\":[1,2,3]},\"requestId\":\"sweep-1\""));
    assertThat(again.statusCode()).as(again.body()).isEqualTo(202);
    assertThat(JSON.readTree(again.body()).path("id").asText()).isEqualTo(id);
  }

  @Test
  void theListHoldsTheProjectsBatchesNewestFirstPageByPageAndNoOtherProjects() throws Exception {
    String done = started("r", ",\"count\":2,\"requestId\":\"listed-done\"");
    until("r", "/api/batches/" + done, "COMPLETED");
    String held = started("r", ",\"count\":4,\"parameters\":{\"blur\":31}");
    String foreign = started("s", ",\"count\":1");
    await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(() ->
            JSON.readTree(get("r", "/api/batches/" + held).body())
                    .path("progress")
                    .path("waiting")
                    .asInt()
                == 1);

    JsonNode list = JSON.readTree(get("r", "/api/batches").body());
    assertThat(list.path("items"))
        .extracting(i -> i.path("id").asText())
        .containsExactly(held, done);
    assertThat(list.path("nextCursor").isMissingNode() || list.path("nextCursor").isNull())
        .isTrue();
    JsonNode running = list.path("items").get(0);
    assertThat(running.path("status").asText()).isEqualTo("RUNNING");
    assertThat(running.path("functionId").asText()).isEqualTo("swept");
    assertThat(running.path("total").asInt()).isEqualTo(4);
    assertThat(running.path("progress").path("waiting").asInt()).isEqualTo(1);
    assertThat(running.path("progress").path("inFlight").asInt()).isEqualTo(3);
    assertThat(java.time.Instant.parse(running.path("createdAt").asText()))
        .isAfterOrEqualTo(
            java.time.Instant.parse(list.path("items").get(1).path("createdAt").asText()));
    JsonNode ended = list.path("items").get(1);
    assertThat(ended.path("status").asText()).isEqualTo("COMPLETED");
    assertThat(ended.path("progress").path("succeeded").asInt()).isEqualTo(2);
    assertThat(ended.path("endedAt").asText()).isNotEmpty();

    // page by page: the cursor of the first page of one brings the second
    JsonNode first = JSON.readTree(get("r", "/api/batches?limit=1").body());
    assertThat(first.path("items")).extracting(i -> i.path("id").asText()).containsExactly(held);
    String cursor = first.path("nextCursor").asText();
    assertThat(cursor).isNotEmpty();
    JsonNode second = JSON.readTree(get("r", "/api/batches?limit=1&cursor=" + cursor).body());
    assertThat(second.path("items")).extracting(i -> i.path("id").asText()).containsExactly(done);

    // by status
    JsonNode completed = JSON.readTree(get("r", "/api/batches?status=completed").body());
    assertThat(completed.path("items"))
        .extracting(i -> i.path("id").asText())
        .containsExactly(done);
    JsonNode runningOnly = JSON.readTree(get("r", "/api/batches?status=RUNNING").body());
    assertThat(runningOnly.path("items"))
        .extracting(i -> i.path("id").asText())
        .containsExactly(held);

    // another project's batches never appear, nor ours in its list
    assertThat(list.toString()).doesNotContain(foreign);
    JsonNode theirs = JSON.readTree(get("s", "/api/batches").body());
    assertThat(theirs.path("items"))
        .extracting(i -> i.path("id").asText())
        .containsExactly(foreign);

    // bad filters: a code and a sentence
    HttpResponse<String> badStatus = get("r", "/api/batches?status=done");
    assertThat(badStatus.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(badStatus.body()).path("code").asText()).isEqualTo("INVALID_STATUS");
    HttpResponse<String> badLimit = get("r", "/api/batches?limit=0");
    assertThat(badLimit.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(badLimit.body()).path("code").asText()).isEqualTo("INVALID_LIMIT");
    HttpResponse<String> badCursor = get("r", "/api/batches?cursor=nonsense");
    assertThat(badCursor.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(badCursor.body()).path("code").asText()).isEqualTo("INVALID_CURSOR");
    HttpResponse<String> otherFilter =
        get("r", "/api/batches?status=completed&limit=1&cursor=" + cursor);
    assertThat(otherFilter.statusCode()).isEqualTo(400);

    client.newUntypedWorkflowStub(held).cancel("the test ends");
  }

  /** The lines of a server-sent event stream, as they come. */
  private java.util.concurrent.BlockingQueue<String> sse(
      String project, String path, String lastEventId) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri(path))
            .header("Authorization", "Bearer " + TestKeys.project(keys, project))
            .header("Accept", "text/event-stream");
    if (lastEventId != null) {
      request.header("Last-Event-ID", lastEventId);
    }
    HttpResponse<java.util.stream.Stream<String>> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofLines());
    assertThat(response.statusCode()).isEqualTo(200);
    java.util.concurrent.BlockingQueue<String> lines =
        new java.util.concurrent.LinkedBlockingQueue<>();
    Thread.ofVirtual()
        .start(() -> {
          response.body().forEach(lines::add);
          lines.add("<end>");
        });
    return lines;
  }

  /** The next event of a stream: its name, id and data; null once the stream ended. */
  private static JsonNode nextEvent(java.util.concurrent.BlockingQueue<String> lines)
      throws Exception {
    String event = null;
    String id = null;
    String data = null;
    while (true) {
      String line = lines.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(line).as("the stream goes on").isNotNull();
      if (line.equals("<end>")) {
        return null;
      }
      if (line.startsWith("event:")) event = line.substring(6).strip();
      if (line.startsWith("id:")) id = line.substring(3).strip();
      if (line.startsWith("data:")) data = line.substring(5).strip();
      if (line.isEmpty() && data != null) {
        com.fasterxml.jackson.databind.node.ObjectNode node = JSON.createObjectNode();
        node.put("event", event);
        node.put("id", Long.parseLong(id));
        node.set("data", JSON.readTree(data));
        return node;
      }
    }
  }

  @Test
  void progressIsFollowedOverSseUntilTheEndAndResumedAfterTheLastEventId() throws Exception {
    String id = started("t", ",\"count\":4,\"parameters\":{\"blur\":31}");
    java.util.concurrent.BlockingQueue<String> stream =
        sse("t", "/api/batches/" + id + "/events", null);
    // a second follower shares the first one's poll
    java.util.concurrent.BlockingQueue<String> other =
        sse("t", "/api/batches/" + id + "/events", null);
    JsonNode event = nextEvent(stream);
    long last = 0;
    while (event.path("data").path("progress").path("inFlight").asInt() < 3) {
      assertThat(event.path("event").asText()).isEqualTo("progress");
      assertThat(event.path("id").asLong()).isGreaterThan(last);
      last = event.path("id").asLong();
      event = nextEvent(stream);
    }
    assertThat(event.path("event").asText()).isEqualTo("progress");
    assertThat(event.path("id").asLong()).isGreaterThan(last).isEqualTo(3);
    assertThat(event.path("data").path("batchId").asText()).isEqualTo(id);
    assertThat(event.path("data").path("status").asText()).isEqualTo("RUNNING");
    assertThat(event.path("data").path("progress").path("total").asInt()).isEqualTo(4);
    assertThat(event.path("data").path("progress").path("waiting").asInt()).isEqualTo(1);
    assertThat(feed.pollsOpen()).isEqualTo(1);

    // another project's key: 404 before any event
    HttpResponse<String> foreign = get("p", "/api/batches/" + id + "/events");
    assertThat(foreign.statusCode()).isEqualTo(404);

    client.newUntypedWorkflowStub(id).cancel("cancelled by the test");
    JsonNode end = nextEvent(stream);
    while (end.path("event").asText().equals("progress")) {
      assertThat(end.path("id").asLong()).isGreaterThan(last);
      last = end.path("id").asLong();
      end = nextEvent(stream);
    }
    assertThat(end.path("event").asText()).isEqualTo("cancelled");
    assertThat(end.path("id").asLong()).isGreaterThan(last);
    assertThat(end.path("data").path("status").asText()).isEqualTo("CANCELLED");
    assertThat(end.path("data").path("progress").path("cancelled").asInt()).isEqualTo(4);
    assertThat(end.path("data").path("progress").path("inFlight").asInt()).isZero();
    assertThat(nextEvent(stream)).as("the stream ends after its end").isNull();
    JsonNode otherEnd;
    do {
      otherEnd = nextEvent(other);
    } while (otherEnd.path("event").asText().equals("progress"));
    assertThat(otherEnd.path("id").asLong()).isEqualTo(end.path("id").asLong());
    await().until(() -> feed.pollsOpen() == 0);

    // resumed: after an earlier id, the end (the counts now); after the end's id, nothing
    java.util.concurrent.BlockingQueue<String> resumed =
        sse("t", "/api/batches/" + id + "/events", "3");
    JsonNode again = nextEvent(resumed);
    assertThat(again.path("event").asText()).isEqualTo("cancelled");
    assertThat(again.path("id").asLong()).isEqualTo(end.path("id").asLong());
    assertThat(nextEvent(resumed)).isNull();
    java.util.concurrent.BlockingQueue<String> seen =
        sse("t", "/api/batches/" + id + "/events", end.path("id").asText());
    assertThat(nextEvent(seen)).isNull();
  }

  @Test
  void theCanvasSocketFollowsABatchWithBatchProgressUntilBatchEnded() throws Exception {
    GenerationValuesApiTest.Socket ws = new GenerationValuesApiTest.Socket();
    java.net.http.WebSocket socket =
        http.newWebSocketBuilder()
            .header("Authorization", "Bearer " + TestKeys.project(keys, "u"))
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), ws)
            .get(10, java.util.concurrent.TimeUnit.SECONDS);
    try {
      String id = started("u", ",\"count\":3");
      socket
          .sendText("{\"type\":\"subscribe_batch\",\"batchId\":\"" + id + "\"}", true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      long last = 0;
      JsonNode message;
      while (true) {
        message = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(message).isNotNull();
        assertThat(message.path("batchId").asText()).as(message.toString()).isEqualTo(id);
        assertThat(message.path("eventId").asLong()).isGreaterThan(last);
        last = message.path("eventId").asLong();
        if (!message.path("type").asText().equals("batch_progress")) {
          break;
        }
        assertThat(message.path("status").asText()).isEqualTo("running");
      }
      assertThat(message.path("type").asText()).isEqualTo("batch_ended");
      assertThat(message.path("status").asText()).isEqualTo("completed");
      assertThat(message.path("progress").path("succeeded").asInt()).isEqualTo(3);
      assertThat(message.path("eventId").asLong()).isEqualTo(7); // 3 started + 3 ended + its end

      // another project's batch, and a bad message: errors naming it
      String foreign = started("p", ",\"count\":1");
      socket
          .sendText("{\"type\":\"subscribe_batch\",\"batchId\":\"" + foreign + "\"}", true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      JsonNode refused = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(refused.path("type").asText()).as(refused.toString()).isEqualTo("error");
      assertThat(refused.path("code").asText()).isEqualTo("NOT_FOUND");
      assertThat(refused.path("batchId").asText()).isEqualTo(foreign);
      socket
          .sendText("{\"type\":\"subscribe_batch\",\"batchId\":7}", true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      JsonNode bad = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(bad.path("code").asText()).as(bad.toString()).isEqualTo("INVALID_MESSAGE");
    } finally {
      socket.abort();
    }
  }

  @Test
  void badBatchesAreRefusedWithACodeAndASentence() throws Exception {
    HttpResponse<String> tooLarge = post("p", batch("p", ",\"count\":51"));
    assertThat(tooLarge.statusCode()).as(tooLarge.body()).isEqualTo(422);
    assertThat(JSON.readTree(tooLarge.body()).path("code").asText()).isEqualTo("BATCH_TOO_LARGE");

    HttpResponse<String> sweptTooLarge =
        post("p", batch("p", ",\"count\":6,\"sweep\":{\"blur\":[1,2,3,4,5,6,7,8,9]}"));
    assertThat(sweptTooLarge.statusCode()).as(sweptTooLarge.body()).isEqualTo(422);

    HttpResponse<String> same = post("p", batch("p", ",\"count\":2,\"parameters\":{\"seed\":7}"));
    assertThat(same.statusCode()).as(same.body()).isEqualTo(422);
    assertThat(JSON.readTree(same.body()).path("code").asText()).isEqualTo("BATCH_NOTHING_VARIES");

    HttpResponse<String> unknown = post("p", batch("p", ",\"sweep\":{\"colour\":[1,2]}"));
    assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(422);
    assertThat(JSON.readTree(unknown.body()).path("code").asText()).isEqualTo("INVALID_SWEEP");

    HttpResponse<String> outOfBounds = post("p", batch("p", ",\"sweep\":{\"blur\":[1,99]}"));
    assertThat(outOfBounds.statusCode()).as(outOfBounds.body()).isEqualTo(422);
    assertThat(JSON.readTree(outOfBounds.body()).path("code").asText())
        .isEqualTo("INVALID_PARAMETERS");
    assertThat(outOfBounds.body()).contains("blur");

    HttpResponse<String> neither = post("p", batch("p", ""));
    assertThat(neither.statusCode()).as(neither.body()).isEqualTo(400);

    HttpResponse<String> badCount = post("p", batch("p", ",\"count\":\"3\""));
    assertThat(badCount.statusCode()).as(badCount.body()).isEqualTo(400);
    assertThat(badCount.body()).doesNotContain("Exception");
  }

  @Test
  void aProjectAtItsQueuedQuotaGets429WithRetryAfter() throws Exception {
    HttpResponse<String> refused = post("full", batch("full", ",\"count\":2"));
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
    assertThat(JSON.readTree(refused.body()).path("code").asText()).isEqualTo("QUOTA_QUEUED");
    assertThat(refused.headers().firstValue("Retry-After")).isPresent();
  }

  @Test
  void anotherProjectsKeyGets404AndCancelEndsTheBatchCancelledWithItsPartialResults()
      throws Exception {
    String id = started("q", ",\"count\":5,\"parameters\":{\"blur\":31}");
    JsonNode running =
        await()
            .atMost(Duration.ofSeconds(30))
            .ignoreExceptions()
            .until(
                () -> JSON.readTree(get("q", "/api/batches/" + id).body()),
                s ->
                    s.path("progress").path("queued").asInt()
                            + s.path("progress").path("running").asInt()
                        == 3);
    assertThat(running.path("status").asText()).isEqualTo("RUNNING");
    assertThat(running.path("progress").path("waiting").asInt()).isEqualTo(2);
    assertThat(running.path("results").path("items").get(4).path("status").asText())
        .isEqualTo("WAITING");

    HttpResponse<String> foreign = get("p", "/api/batches/" + id);
    assertThat(foreign.statusCode()).as(foreign.body()).isEqualTo(404);
    HttpResponse<String> foreignCancel =
        http.send(
            HttpRequest.newBuilder(uri("/api/batches/" + id + "/cancel"))
                .header("Authorization", "Bearer " + TestKeys.project(keys, "p"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(foreignCancel.statusCode()).isEqualTo(404);
    assertThat(get("q", "/api/batches/batch-0000000000-nothing").statusCode()).isEqualTo(404);

    HttpResponse<String> cancel =
        http.send(
            HttpRequest.newBuilder(uri("/api/batches/" + id + "/cancel"))
                .header("Authorization", "Bearer " + TestKeys.project(keys, "q"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(cancel.statusCode()).as(cancel.body()).isEqualTo(202);

    JsonNode end = until("q", "/api/batches/" + id, "CANCELLED");
    assertThat(end.path("progress").path("cancelled").asInt()).isEqualTo(5);
    assertThat(end.path("progress").path("queued").asInt()).isZero();
    JsonNode items = end.path("results").path("items");
    assertThat(items.get(0).path("status").asText()).isEqualTo("CANCELLED");
    assertThat(items.get(0).path("error").path("code").asText()).isEqualTo("CANCELLED");
    assertThat(items.get(4).path("error").path("message").asText()).contains("Never started");
    // (read with an operator key: the stand-in, unlike a generation, leaves no result in its memo
    // when cancelled, so its project is not known from it)
    JsonNode child =
        JSON.readTree(
            http.send(
                    TestKeys.request(
                            keys,
                            uri("/api/generations/" + items.get(0).path("generationId").asText()))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertThat(child.path("status").asText()).isEqualTo("CANCELLED");
  }

  @Test
  void theCanvasSocketStartsABatchAndAnswersItsRefusalsWithTheRestCodes() throws Exception {
    GenerationValuesApiTest.Socket ws = new GenerationValuesApiTest.Socket();
    java.net.http.WebSocket socket =
        http.newWebSocketBuilder()
            .header("Authorization", "Bearer " + TestKeys.project(keys, "p"))
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), ws)
            .get(10, java.util.concurrent.TimeUnit.SECONDS);
    try {
      String requestId = "ws-" + java.util.UUID.randomUUID();
      socket
          .sendText(
              "{\"type\":\"start_batch\",\"functionId\":\"swept\",\"nodeId\":\"n\","
                  + "\"tier\":\"standard\",\"sweep\":{\"blur\":[1,2]},\"requestId\":\""
                  + requestId
                  + "\"}",
              true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      JsonNode ack = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(ack).isNotNull();
      assertThat(ack.path("type").asText()).as(ack.toString()).isEqualTo("batch_acknowledged");
      assertThat(ack.path("total").asInt()).isEqualTo(2);
      assertThat(ack.path("nodeId").asText()).isEqualTo("n");
      assertThat(ack.path("requestId").asText()).isEqualTo(requestId);
      String id = ack.path("batchId").asText();
      assertThat(id).startsWith("batch-").endsWith(requestId);
      JsonNode end = until("p", "/api/batches/" + id, "COMPLETED");
      assertThat(end.path("progress").path("succeeded").asInt()).isEqualTo(2);

      socket
          .sendText(
              "{\"type\":\"start_batch\",\"functionId\":\"swept\",\"nodeId\":\"n2\","
                  + "\"count\":51}",
              true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      JsonNode refused = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(refused).isNotNull();
      assertThat(refused.path("code").asText()).as(refused.toString()).isEqualTo("BATCH_TOO_LARGE");
      assertThat(refused.path("nodeId").asText()).isEqualTo("n2");

      socket
          .sendText("{\"type\":\"start_batch\",\"functionId\":\"swept\",\"nodeId\":\"n3\"}", true)
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
      JsonNode neither = ws.received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(neither).isNotNull();
      assertThat(neither.path("code").asText()).as(neither.toString()).isEqualTo("INVALID_REQUEST");
    } finally {
      socket.abort();
    }
  }
}
