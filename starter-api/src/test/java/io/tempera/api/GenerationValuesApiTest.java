package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationError;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.generation.OutputValue;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import io.temporal.worker.WorkerFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A generation's values (what the backend returned that is not a file) reach every place its
 * outputs do: the REST state, the SSE terminal event and the WebSocket's {@code task_success}, as
 * {@code values: [{name, kind, value}]}. The API runs on Temporal's test server; the generations
 * are workflows of a stand-in implementation that ends with such values.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/api-values-test-outputs"
    })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GenerationValuesApiTest {

  @org.springframework.beans.factory.annotation.Autowired io.tempera.security.ApiKeyStore keys;

  static final ObjectMapper JSON = new ObjectMapper();
  static final String QUEUE = "values-api-test";
  static final String SUCCEEDED = "gen-values-succeeded";
  static final String FAILED = "gen-values-failed";
  static final Duration WAIT = Duration.ofSeconds(30);

  static final ObjectNode LABEL =
      JsonNodeFactory.instance.objectNode().put("label", "cat").set("confidences", confidences());

  static final List<OutputValue> VALUES =
      List.of(
          new OutputValue("caption", "text", JsonNodeFactory.instance.textNode("a <b>cat</b>")),
          new OutputValue("score", "number", JsonNodeFactory.instance.numberNode(0.25)),
          new OutputValue("label", "label", LABEL));

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @LocalServerPort int port;
  @Autowired WorkflowClient client;
  WorkerFactory workers;

  private static com.fasterxml.jackson.databind.node.ArrayNode confidences() {
    return JsonNodeFactory.instance
        .arrayNode()
        .add(JsonNodeFactory.instance.objectNode().put("label", "cat").put("confidence", 0.9))
        .add(JsonNodeFactory.instance.objectNode().put("label", "dog").put("confidence", 0.1));
  }

  /** Ends at once: SUCCEEDED with a file and {@link #VALUES}, or FAILED when asked to. */
  public static class EndsWithValues extends EndsAtOnce {

    @Override
    public GenerationResult run(GenerationRequest request) {
      String id = io.temporal.workflow.Workflow.getInfo().getWorkflowId();
      boolean fails = "fails".equals(request.functionId());
      GenerationError error =
          fails ? GenerationError.of(ErrorCode.EXECUTION_ERROR, "Node 3 failed") : null;
      result =
          new GenerationResult(
              id,
              fails ? GenerationStatus.FAILED : GenerationStatus.SUCCEEDED,
              fails ? 0.5 : 1.0,
              request.functionId(),
              "1.0.0",
              request.projectId(),
              request.nodeId(),
              request.tier(),
              request.tier(),
              List.of(new OutputRef(id + "_out.png", "p/outputs/out.png", "image/png", 10, 8, 8)),
              error,
              List.of("The prompt was shortened"),
              List.of(),
              null,
              null,
              fails ? List.of() : VALUES,
              request.parameters());
      if (fails) {
        throw ApplicationFailure.newBuilder()
            .setType(error.code())
            .setMessage(error.message())
            .setNonRetryable(true)
            .setDetails(error, result)
            .build();
      }
      return result;
    }
  }

  @BeforeAll
  void endTwoGenerations() {
    workers = WorkerFactory.newInstance(client);
    workers.newWorker(QUEUE).registerWorkflowImplementationTypes(EndsWithValues.class);
    workers.start();
    for (String id : List.of(SUCCEEDED, FAILED)) {
      GenerationWorkflow workflow =
          client.newWorkflowStub(
              GenerationWorkflow.class,
              WorkflowOptions.newBuilder().setTaskQueue(QUEUE).setWorkflowId(id).build());
      WorkflowClient.start(
          workflow::run,
          new GenerationRequest(
              id.equals(FAILED) ? "fails" : "caption", "standard", Map.of(), "p", "n1", null));
      try {
        WorkflowStub.fromTyped(workflow).getResult(30, TimeUnit.SECONDS, GenerationResult.class);
      } catch (Exception endedFailedAsIntended) {
        assertThat(id).isEqualTo(FAILED);
      }
    }
  }

  @AfterAll
  void stopWorkers() {
    if (workers != null) {
      workers.shutdownNow();
    }
  }

  /** The values as the API writes them: {@code [{name, kind, value}]} in the backend's order. */
  private static void assertTheValues(JsonNode values) {
    assertThat(values.isArray()).as("values: %s", values).isTrue();
    assertThat(values).hasSize(3);
    assertThat(values.get(0).get("name").asText()).isEqualTo("caption");
    assertThat(values.get(0).get("kind").asText()).isEqualTo("text");
    assertThat(values.get(0).get("value").asText()).isEqualTo("a <b>cat</b>");
    assertThat(values.get(1).get("name").asText()).isEqualTo("score");
    assertThat(values.get(1).get("kind").asText()).isEqualTo("number");
    assertThat(values.get(1).get("value").isNumber()).isTrue();
    assertThat(values.get(1).get("value").asDouble()).isEqualTo(0.25);
    assertThat(values.get(2).get("kind").asText()).isEqualTo("label");
    assertThat(values.get(2).get("value")).isEqualTo(LABEL);
    assertThat(values.get(0).fieldNames()).toIterable().containsExactly("name", "kind", "value");
  }

  @Test
  void theRestStateShowsTheValuesNextToTheOutputs() throws Exception {
    HttpResponse<String> response =
        http.send(
            TestKeys.request(keys, uri("/api/generations/" + SUCCEEDED)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode view = JSON.readTree(response.body());
    assertThat(view.get("status").asText()).isEqualTo("SUCCEEDED");
    assertThat(view.get("outputs")).hasSize(1);
    assertTheValues(view.get("values"));
    List<String> fields = new ArrayList<>();
    view.fieldNames().forEachRemaining(fields::add);
    assertThat(fields.indexOf("values"))
        .as("values follow outputs")
        .isEqualTo(fields.indexOf("outputs") + 1);

    JsonNode failed =
        JSON.readTree(
            http.send(
                    TestKeys.request(keys, uri("/api/generations/" + FAILED)).build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertThat(failed.get("status").asText()).isEqualTo("FAILED");
    assertThat(failed.get("values").isArray()).isTrue();
    assertThat(failed.get("values")).isEmpty();
  }

  @Test
  void theSseTerminalEventCarriesTheValues() throws Exception {
    List<Map.Entry<String, JsonNode>> events = sse(SUCCEEDED);
    assertThat(events)
        .singleElement()
        .satisfies(e -> {
          assertThat(e.getKey()).isEqualTo("succeeded");
          assertTheValues(e.getValue().get("values"));
        });
  }

  @Test
  void theWebSocketsTaskSuccessCarriesTheValuesAndTaskFailedAnEmptyList() throws Exception {
    Socket ws = new Socket();
    WebSocket socket =
        http.newWebSocketBuilder()
            // the key on the upgrade request (a client that can set headers): no authenticate
            .header("Authorization", "Bearer " + TestKeys.operator(keys))
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), ws)
            .get(10, TimeUnit.SECONDS);
    try {
      socket
          .sendText(
              JSON.writeValueAsString(
                  Map.of("type", "subscribe", "taskIds", List.of(SUCCEEDED, FAILED))),
              true)
          .get(10, TimeUnit.SECONDS);
      // the two ends come in either order
      Map<String, JsonNode> ends = ws.terminals(2);
      JsonNode success = ends.get(SUCCEEDED);
      assertThat(success.get("type").asText()).isEqualTo("task_success");
      assertThat(success.get("outputs")).hasSize(1);
      assertThat(success.get("warnings").get(0).asText()).isEqualTo("The prompt was shortened");
      assertTheValues(success.get("values"));
      JsonNode failed = ends.get(FAILED);
      assertThat(failed.get("type").asText()).isEqualTo("task_failed");
      assertThat(failed.get("code").asText()).isEqualTo("EXECUTION_ERROR");
      assertThat(failed.get("values").isArray()).isTrue();
      assertThat(failed.get("values")).isEmpty();
    } finally {
      socket.abort();
    }
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  /** The generation's SSE events until the stream ends. */
  private List<Map.Entry<String, JsonNode>> sse(String id) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(
            TestKeys.request(keys, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(WAIT)
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
        }
      }
    }
    return events;
  }

  /** Queues every JSON message the server sends. */
  static final class Socket implements WebSocket.Listener {
    final LinkedBlockingQueue<JsonNode> received = new LinkedBlockingQueue<>();
    final StringBuilder buffer = new StringBuilder();

    /** The first {@code count} terminal messages (task_success, task_failed) by task id. */
    Map<String, JsonNode> terminals(int count) throws InterruptedException {
      Map<String, JsonNode> ends = new java.util.HashMap<>();
      while (ends.size() < count) {
        JsonNode message = received.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(message).as("%s ends within %s, got %s", count, WAIT, ends).isNotNull();
        String type = message.get("type").asText();
        assertThat(type).as(message.toString()).isNotEqualTo("error");
        if (type.equals("task_success") || type.equals("task_failed")) {
          ends.put(message.get("taskId").asText(), message);
        }
      }
      return ends;
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
