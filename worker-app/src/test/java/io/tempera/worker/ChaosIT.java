package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestImages;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Process-level chaos (its own CI stage: {@code -Pchaos}): an API process and a worker process
 * against a Temporal server that outlives them. 50 generations are started over HTTP, the worker is
 * killed with SIGKILL at two random points and started again each time. Every generation must reach
 * a terminal state (none lost), and the backend must have executed each successful generation
 * exactly once (the testkit ComfyUI records every execution it starts; each generation has its own
 * step count, so its executions can be told apart).
 */
class ChaosIT {

  private static final int GENERATIONS = 50;
  private static final long SEED = Long.getLong("tempera.chaos.seed", 20261202L);

  private final ObjectMapper json = new ObjectMapper();
  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfy;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-chaos");
    ChaosInvert.install(root, "chaos");
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
  }

  @AfterEach
  void tearDown() {
    processes.close();
    comfy.close();
  }

  @Test
  void fiftyGenerationsSurviveTwoWorkerKillsWithNoneLostAndOneBackendRunEach() throws Exception {
    int temporalPort = processes.startTemporal();
    Map<String, String> env =
        RealProcesses.workerEnvironment(
            temporalPort,
            comfy.baseUrl(),
            root,
            "TEMPERA_SLOTS",
            "4",
            // a worker restarted within the host timeout keeps its leases and re-attaches to its
            // runs (one backend run each, as asserted); one away longer is lost and its work
            // moves (HostLossIT). A JVM restart on a busy 2-core machine can take 15 s.
            "TEMPERA_HOST_TIMEOUT_SECONDS",
            "120");
    Process worker = processes.startWorker("chaos-worker-0", env);
    int apiPort = RealProcesses.freePort();
    processes.startApi("chaos-api", apiPort, env);
    RealProcesses.awaitPort(apiPort);

    // each generation its own step count (3..52 steps of 30 ms): distinct graphs, no cache hits
    Map<String, Integer> stepsById = new LinkedHashMap<>();
    for (int i = 0; i < GENERATIONS; i++) {
      int steps = 3 + i;
      stepsById.put(
          ChaosInvert.start(processes, apiPort, "chaos", "node-" + i, "chaos-" + i, null, steps),
          steps);
    }

    Random random = new Random(SEED);
    List<String> kills = new ArrayList<>();
    for (int kill = 1; kill <= 2; kill++) {
      long waitMs = 2_000L + random.nextInt(6_000);
      Thread.sleep(waitMs);
      Map<String, String> before = processes.statuses(apiPort, stepsById.keySet());
      long inFlight = before.values().stream().filter(s -> !RealProcesses.terminal(s)).count();
      worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: no shutdown hooks
      kills.add(
          "kill "
              + kill
              + " after "
              + waitMs
              + " ms with "
              + inFlight
              + " generations in flight, "
              + comfy.executions().size()
              + " backend executions so far");
      assertThat(inFlight)
          .as("kill %d must hit generations in flight to mean anything", kill)
          .isPositive();
      Thread.sleep(random.nextInt(2_000));
      worker = processes.startWorker("chaos-worker-" + kill, env);
    }

    try {
      await("every generation terminal")
          .atMost(Duration.ofSeconds(240))
          .pollInterval(Duration.ofMillis(500))
          .until(() ->
              processes.statuses(apiPort, stepsById.keySet()).values().stream()
                  .allMatch(RealProcesses::terminal));
    } catch (ConditionTimeoutException notAllTerminal) {
      // the assertions below tell which are not, with the run's summary
    }
    Map<String, String> statuses = processes.statuses(apiPort, stepsById.keySet());

    Map<String, Long> byStatus =
        statuses.values().stream()
            .collect(Collectors.groupingBy(s -> s, TreeMap::new, Collectors.counting()));
    Map<Integer, Long> executionsBySteps = ChaosInvert.executionsBySteps(comfy);
    String summary =
        "seed "
            + SEED
            + "; "
            + String.join("; ", kills)
            + "; final statuses "
            + byStatus
            + "; backend executions "
            + comfy.executions().size()
            + ", POST /prompt "
            + comfy.promptPostCount();
    Files.writeString(Path.of("target", "chaos-summary.txt"), summary + System.lineSeparator());
    System.out.println("[chaos] " + summary);

    assertThat(statuses)
        .as("every generation is found (none lost): %s", summary)
        .hasSize(GENERATIONS)
        .doesNotContainValue("MISSING");
    assertThat(statuses.values())
        .as("every generation reached a terminal state: %s", summary)
        .allMatch(RealProcesses::terminal);
    assertThat(byStatus)
        .as("no injected backend faults, so every generation succeeds: %s", summary)
        .containsOnlyKeys("SUCCEEDED");
    for (Map.Entry<String, Integer> generation : stepsById.entrySet()) {
      assertThat(executionsBySteps.getOrDefault(generation.getValue(), 0L))
          .as(
              "backend executions of %s (%d steps): %s",
              generation.getKey(), generation.getValue(), summary)
          .isEqualTo(1L);
      JsonNode state =
          json.readTree(processes.get(apiPort, "/api/generations/" + generation.getKey()).body());
      String url = state.path("outputs").path(0).path("url").asText();
      var png = processes.getBytes(apiPort, url);
      assertThat(png.statusCode()).as("output of %s", generation.getKey()).isEqualTo(200);
      assertThat(
              TestImages.isInverted(
                  TestImages.sample(), ImageIO.read(new ByteArrayInputStream(png.body()))))
          .as("output of %s is the inverted input", generation.getKey())
          .isTrue();
    }
  }
}
