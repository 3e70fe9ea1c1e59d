package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Encryption at rest on a real Temporal server (the CLI's dev server) with an API and a worker
 * process: a generation runs and its result reads as usual, while the history the server stores
 * holds none of its parameters, only sealed payloads.
 */
class EncryptionOnTemporalIT {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A parameter value distinctive enough to be searched for in the stored history. */
  private static final int COLOR = 7351234;

  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfy;
  private int temporalPort;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-encryption");
    TestFiles.copyShippedTemplates(root.resolve("templates"));
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
    temporalPort = processes.startTemporal();
  }

  @AfterEach
  void tearDown() {
    processes.close();
    comfy.close();
  }

  @Test
  void theServersHistoryHoldsNoParameterWhileTheGenerationReadsAsUsual() throws Exception {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "TEMPORAL_ADDRESS",
                "127.0.0.1:" + temporalPort,
                "TEMPERA_COMFYUI_URL",
                comfy.baseUrl().toString(),
                "TEMPERA_OUTPUT_ROOT",
                root.resolve("outputs").toString(),
                "TEMPERA_TEMPLATES_DIR",
                root.resolve("templates").toString(),
                "TEMPERA_WORKER_PORT",
                "0",
                "TEMPERA_ENCRYPTION_ENABLED",
                "true",
                "TEMPERA_ENCRYPTION_CURRENT_KEY_ID",
                "k1",
                "TEMPERA_ENCRYPTION_KEYS_K1",
                Base64.getEncoder().encodeToString(key)));
    processes.startWorker("worker-encryption", env);
    int api = RealProcesses.freePort();
    processes.startApi("api-encryption", api, env);
    RealProcesses.awaitPort(api);

    HttpResponse<String> accepted =
        processes.post(
            api,
            "/api/generations",
            "{\"functionId\":\"generate-pattern\",\"projectId\":\"sealed\",\"nodeId\":\"n\","
                + "\"requestId\":\"sealed-1\",\"parameters\":{\"color\":"
                + COLOR
                + ",\"border\":24}}");
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = JSON.readTree(accepted.body()).get("id").asText();
    JsonNode[] state = {null};
    await("the generation ends")
        .atMost(Duration.ofSeconds(90))
        .until(() -> {
          state[0] = JSON.readTree(processes.get(api, "/api/generations/" + id).body());
          return state[0].path("status").asText().matches("SUCCEEDED|FAILED|CANCELLED");
        });
    assertThat(state[0].path("status").asText()).as(state[0].toString()).isEqualTo("SUCCEEDED");
    assertThat(state[0].path("outputs")).hasSize(1);

    String history;
    var stubs = RealProcesses.serviceStubs(temporalPort);
    try {
      history =
          new String(
              stubs
                  .blockingStub()
                  .getWorkflowExecutionHistory(
                      GetWorkflowExecutionHistoryRequest.newBuilder()
                          .setNamespace("default")
                          .setExecution(WorkflowExecution.newBuilder().setWorkflowId(id))
                          .build())
                  .toByteArray(),
              StandardCharsets.ISO_8859_1);
    } finally {
      stubs.shutdownNow();
    }
    assertThat(history).as("the history is there").contains("GenerationWorkflow");
    assertThat(history).as("sealed payloads").contains("binary/encrypted");
    assertThat(history)
        .as("the parameter's value anywhere in the stored history")
        .doesNotContain(Integer.toString(COLOR));
    assertThat(history).as("the function's parameters").doesNotContain("\"border\"");
  }
}
