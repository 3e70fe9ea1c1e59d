package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What operators see in Temporal matches what the API says: on a real Temporal server (the CLI's
 * dev server), with an API and a worker process, a succeeded, a failed and a cancelled generation
 * are listed by {@code temporal workflow list} as Completed, Failed and Canceled, with the
 * TemperaStatus search attribute saying the same as the API's status.
 */
class OutcomesOnTemporalIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfy;
  private int temporalPort;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-outcomes");
    TestFiles.copyShippedTemplates(root.resolve("templates"));
    TestFiles.copyTree(
        Path.of("../activities/src/test/resources/templates/slow-invert"),
        root.resolve("templates/slow-invert"));
    Path uploads = root.resolve("outputs/outcomes/uploads");
    TestImages.writePng(TestImages.sample(), uploads.resolve("sample.png"));
    // a file the API accepts (it exists in the project) that the backend cannot read as an image
    Files.writeString(uploads.resolve("broken.png"), "not an image", StandardCharsets.UTF_8);
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
    temporalPort = processes.startTemporal();
    for (var key : GenerationSearchAttributes.ALL) {
      assertThat(
              cli(
                      "operator",
                      "search-attribute",
                      "create",
                      "--name",
                      key.getName(),
                      "--type",
                      "Keyword")
                  .exitCode)
          .as("registering %s", key.getName())
          .isZero();
    }
  }

  @AfterEach
  void tearDown() {
    processes.close();
    comfy.close();
  }

  @Test
  void temporalListsEachGenerationAsTheApiReportsIt() throws Exception {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "TEMPORAL_ADDRESS", "127.0.0.1:" + temporalPort,
                "TEMPERA_COMFYUI_URL", comfy.baseUrl().toString(),
                "TEMPERA_OUTPUT_ROOT", root.resolve("outputs").toString(),
                "TEMPERA_TEMPLATES_DIR", root.resolve("templates").toString(),
                "TEMPERA_WORKER_PORT", "0"));
    processes.startWorker("worker-outcomes", env);
    int api = RealProcesses.freePort();
    processes.startApi("api-outcomes", api, env, "--tempera.search-attributes=true");
    RealProcesses.awaitPort(api);

    String ok = start(api, "ok", "invert", "{\"image\":\"uploads/sample.png\"}");
    String broken = start(api, "broken", "invert", "{\"image\":\"uploads/broken.png\"}");
    String stopped =
        start(api, "stopped", "slow-invert", "{\"image\":\"uploads/sample.png\",\"steps\":600}");
    await("the slow one runs")
        .atMost(Duration.ofSeconds(60))
        .until(() -> status(api, stopped).equals("RUNNING"));
    HttpResponse<String> cancel =
        processes.post(api, "/api/generations/" + stopped + "/cancel", "{}");
    assertThat(cancel.statusCode()).as(cancel.body()).isEqualTo(202);

    Map<String, String> expected = Map.of(ok, "SUCCEEDED", broken, "FAILED", stopped, "CANCELLED");
    for (var generation : expected.entrySet()) {
      await(generation.getKey() + " ends")
          .atMost(Duration.ofSeconds(90))
          .until(() -> status(api, generation.getKey()).equals(generation.getValue()));
    }
    JsonNode brokenState = JSON.readTree(processes.get(api, "/api/generations/" + broken).body());
    assertThat(brokenState.at("/error/code").asText()).isEqualTo("EXECUTION_ERROR");
    // the cancelled run was stopped on ComfyUI too: taken out of its queue before it ran, or
    // interrupted while it ran (600 steps would have run for a minute and succeeded)
    for (ComfyUiTestServer.Execution slow :
        comfy.executions().stream()
            .filter(e -> e.prompt().toString().contains("\"steps\":600"))
            .toList()) {
      assertThat(comfyHistory(slow.promptId()))
          .as("the cancelled prompt's history")
          .contains("execution_interrupted");
    }
    JsonNode stoppedState = JSON.readTree(processes.get(api, "/api/generations/" + stopped).body());
    assertThat(stoppedState.at("/error/message").asText())
        .as("the reason given with the cancel")
        .isEqualTo("Cancelled: cancelled by the user");

    Map<String, String> temporalStatus =
        Map.of(
            "SUCCEEDED", "WORKFLOW_EXECUTION_STATUS_COMPLETED",
            "FAILED", "WORKFLOW_EXECUTION_STATUS_FAILED",
            "CANCELLED", "WORKFLOW_EXECUTION_STATUS_CANCELED");
    await("temporal workflow list shows every generation as it ended")
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> {
          Cli list =
              cli(
                  "workflow",
                  "list",
                  "--query",
                  "WorkflowType = 'GenerationWorkflow'",
                  "-o",
                  "json");
          assertThat(list.exitCode).as(list.output).isZero();
          Map<String, JsonNode> listed = new HashMap<>();
          JSON.readTree(list.output)
              .forEach(execution ->
                  listed.put(execution.at("/execution/workflowId").asText(), execution));
          assertThat(listed).containsOnlyKeys(expected.keySet());
          for (var generation : expected.entrySet()) {
            JsonNode execution = listed.get(generation.getKey());
            assertThat(execution.get("status").asText())
                .as(generation.getKey())
                .isEqualTo(temporalStatus.get(generation.getValue()));
            assertThat(searchAttribute(execution, "TemperaStatus"))
                .as("%s's TemperaStatus", generation.getKey())
                .isEqualTo(generation.getValue());
          }
        });
    // the same as seen by the Temporal query language, as an operator filters the list
    Cli failed =
        cli(
            "workflow",
            "list",
            "--query",
            "TemperaStatus = 'FAILED' AND ExecutionStatus = 'Failed'",
            "-o",
            "json");
    assertThat(JSON.readTree(failed.output))
        .singleElement()
        .satisfies(e -> assertThat(e.at("/execution/workflowId").asText()).isEqualTo(broken));
  }

  /**
   * A Keyword search attribute as `temporal workflow list -o json` shows it (a base64 JSON
   * payload).
   */
  private static String searchAttribute(JsonNode execution, String name) throws Exception {
    JsonNode payload = execution.at("/searchAttributes/indexedFields/" + name + "/data");
    if (payload.isMissingNode()) {
      return null;
    }
    return JSON.readTree(java.util.Base64.getDecoder().decode(payload.asText())).asText();
  }

  private String comfyHistory(String promptId) throws Exception {
    return processes
        .http()
        .send(
            java.net.http.HttpRequest.newBuilder(comfy.baseUrl().resolve("/history/" + promptId))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** Starts a generation of project {@code outcomes}; its id (the workflow's id too). */
  private String start(int api, String requestId, String function, String parameters)
      throws Exception {
    HttpResponse<String> accepted =
        processes.post(
            api,
            "/api/generations",
            "{\"functionId\":\""
                + function
                + "\",\"projectId\":\"outcomes\",\"nodeId\":\"n-"
                + requestId
                + "\",\"requestId\":\""
                + requestId
                + "\",\"parameters\":"
                + parameters
                + "}");
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = JSON.readTree(accepted.body()).get("id").asText();
    assertThat(id).isEqualTo(RealProcesses.generationId("outcomes", requestId));
    return id;
  }

  private String status(int api, String id) throws Exception {
    HttpResponse<String> state = processes.get(api, "/api/generations/" + id);
    return state.statusCode() == 200
        ? JSON.readTree(state.body()).get("status").asText()
        : "HTTP " + state.statusCode();
  }

  private record Cli(int exitCode, String output) {}

  private Cli cli(String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of(RealProcesses.temporalCli()));
    command.addAll(List.of(args));
    command.addAll(List.of("--address", "127.0.0.1:" + temporalPort));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new Cli(process.exitValue(), output);
  }
}
