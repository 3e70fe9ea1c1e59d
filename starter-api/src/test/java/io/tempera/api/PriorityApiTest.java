package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The API alone: a generation's priority is its tier's default unless it asks for another; a
 * project key may ask for a lower one and is refused a higher one (422 PRIORITY_NOT_ALLOWED), an
 * operator may ask for any; an unknown name is a 400. The priority and the project's configured
 * fair-share weight reach the workflow's request, and its Temporal task-queue priority (key,
 * fairness key = project, fairness weight) is set on the start.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.scheduling.weights.heavy=3",
      "tempera.scheduling.tier-priorities.ultra=batch"
    })
class PriorityApiTest {

  @Autowired io.tempera.security.ApiKeyStore keys;
  @Autowired WorkflowClient workflows;

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path ROOT;

  static {
    try {
      ROOT = Files.createTempDirectory("tempera-priorities");
      TestFiles.copyTree(
          Path.of("src/test/resources/templates/nullable-options"),
          ROOT.resolve("templates/nullable-options"));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add("tempera.templates-dir", () -> ROOT.resolve("templates").toString());
    registry.add("tempera.output-root", () -> ROOT.resolve("outputs").toString());
  }

  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  HttpResponse<String> start(String key, String project, String requestId, String extra)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("Authorization", "Bearer " + key)
            .header("content-type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"functionId\":\"nullable-options\",\"projectId\":\""
                        + project
                        + "\",\"nodeId\":\"n\",\"requestId\":\""
                        + requestId
                        + "\",\"parameters\":{}"
                        + extra
                        + "}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The started workflow's request and its Temporal priority. */
  record Started(JsonNode request, io.temporal.api.common.v1.Priority priority) {}

  Started started(HttpResponse<String> response) throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    String id = JSON.readTree(response.body()).get("id").asText();
    HistoryEvent event = workflows.fetchHistory(id).getHistory().getEvents(0);
    var attributes = event.getWorkflowExecutionStartedEventAttributes();
    return new Started(
        JSON.readTree(
            attributes.getInput().getPayloads(0).getData().toString(StandardCharsets.UTF_8)),
        attributes.getPriority());
  }

  @Test
  void theTiersDefaultAndTheProjectsWeightReachTheWorkflowAndTemporal() throws Exception {
    String heavy = TestKeys.project(keys, "heavy");
    Started draft = started(start(heavy, "heavy", "draft-default", ",\"tier\":\"draft\""));
    assertThat(draft.request().get("priority").asInt()).isEqualTo(2); // interactive
    assertThat(draft.request().get("fairShareWeight").asInt()).isEqualTo(3);
    assertThat(draft.priority().getPriorityKey()).isEqualTo(2);
    assertThat(draft.priority().getFairnessKey()).isEqualTo("heavy");
    assertThat(draft.priority().getFairnessWeight()).isEqualTo(3.0f);

    String light = TestKeys.project(keys, "light");
    Started standard = started(start(light, "light", "standard-default", ""));
    assertThat(standard.request().get("priority").asInt()).isEqualTo(3); // normal
    assertThat(standard.request().get("fairShareWeight").asInt()).isEqualTo(1);
    // configured: ultra renders are batch
    Started ultra = started(start(light, "light", "ultra-default", ",\"tier\":\"ultra\""));
    assertThat(ultra.request().get("priority").asInt()).isEqualTo(5);
  }

  @Test
  void aProjectKeyMayLowerItsPriorityButNotRaiseIt() throws Exception {
    String key = TestKeys.project(keys, "lowering");
    Started lowered = started(start(key, "lowering", "lowered", ",\"priority\":\"batch\""));
    assertThat(lowered.request().get("priority").asInt()).isEqualTo(5);
    assertThat(lowered.priority().getPriorityKey()).isEqualTo(5);
    Started same = started(start(key, "lowering", "same", ",\"priority\":\"normal\""));
    assertThat(same.request().get("priority").asInt()).isEqualTo(3);

    HttpResponse<String> raised = start(key, "lowering", "raised", ",\"priority\":\"interactive\"");
    assertThat(raised.statusCode()).as(raised.body()).isEqualTo(422);
    JsonNode error = JSON.readTree(raised.body());
    assertThat(error.get("code").asText()).isEqualTo("PRIORITY_NOT_ALLOWED");
    assertThat(error.get("message").asText())
        .isEqualTo(
            "A standard generation runs at priority normal or lower; only an operator may ask"
                + " for interactive");
  }

  @Test
  void anOperatorMayRaiseAPriority() throws Exception {
    Started urgent =
        started(start(TestKeys.operator(keys), "anyproject", "urgent", ",\"priority\":\"urgent\""));
    assertThat(urgent.request().get("priority").asInt()).isEqualTo(1);
    assertThat(urgent.priority().getPriorityKey()).isEqualTo(1);
  }

  @Test
  void anUnknownPriorityIsA400NamingTheField() throws Exception {
    HttpResponse<String> response =
        start(TestKeys.project(keys, "light"), "light", "vip", ",\"priority\":\"vip\"");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
    JsonNode error = JSON.readTree(response.body());
    assertThat(error.get("code").asText()).isEqualTo("INVALID_REQUEST");
    assertThat(error.get("problems").get(0).get("field").asText()).isEqualTo("priority");
    assertThat(error.get("problems").get(0).get("message").asText())
        .isEqualTo("priority must be urgent, interactive, normal, low or batch");
    HttpResponse<String> number =
        start(TestKeys.project(keys, "light"), "light", "number", ",\"priority\":1");
    assertThat(number.statusCode()).as(number.body()).isEqualTo(400);
  }
}
