package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The process tests' function, {@code chaos-invert}: it inverts an image after a number of short
 * steps, and each generation is given a step count of its own, so that the testkit ComfyUI's
 * executions tell which generation each one was.
 */
final class ChaosInvert {

  private static final ObjectMapper JSON = new ObjectMapper();

  private ChaosInvert() {}

  /** Its template under {@code root/templates}, and the sample image in the project's uploads. */
  static void install(Path root, String projectId) throws IOException {
    TestFiles.copyTree(
        Path.of("src/test/resources/templates/chaos-invert"),
        root.resolve("templates/chaos-invert"));
    TestImages.writePng(
        TestImages.sample(), root.resolve("outputs/" + projectId + "/uploads/sample.png"));
  }

  /**
   * Starts a generation of {@code steps} steps through the API process on {@code apiPort} ({@code
   * tier} null: the default) and returns its id.
   */
  static String start(
      RealProcesses processes,
      int apiPort,
      String projectId,
      String nodeId,
      String requestId,
      String tier,
      int steps)
      throws IOException, InterruptedException {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("functionId", "chaos-invert");
    body.put("projectId", projectId);
    body.put("nodeId", nodeId);
    body.put("requestId", requestId);
    if (tier != null) {
      body.put("tier", tier);
    }
    body.put("parameters", Map.of("image", "uploads/sample.png", "steps", steps));
    var accepted = processes.post(apiPort, "/api/generations", JSON.writeValueAsString(body));
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    return JSON.readTree(accepted.body()).path("id").asText();
  }

  /** The step count of a backend execution: which generation it was. */
  static int stepsOf(ComfyUiTestServer.Execution execution) {
    return execution.prompt().path("2").path("inputs").path("steps").asInt();
  }

  /** How many times the backend executed each step count. */
  static Map<Integer, Long> executionsBySteps(ComfyUiTestServer comfy) {
    return comfy.executions().stream()
        .collect(Collectors.groupingBy(ChaosInvert::stepsOf, Collectors.counting()));
  }
}
