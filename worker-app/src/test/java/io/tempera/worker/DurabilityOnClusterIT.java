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
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Durability on the real cluster (its own CI stage, {@code -Pcluster}): the Temporal server built
 * from {@code go.temporal.io/server} on PostgreSQL, an API process and a worker process from the
 * packaged jars, the testkit ComfyUI counting every execution. While generations run, each part is
 * killed with SIGKILL in turn and started again — the worker, the API, the Temporal server,
 * PostgreSQL (restarted on its data) — and then every generation must have succeeded, none lost,
 * each run exactly once by the backend, and the real server's visibility must find them by the
 * Tempera search attributes. What happened is written to {@code target/cluster-durability.txt}.
 */
class DurabilityOnClusterIT {

  private static final int GENERATIONS = 32;

  private final ObjectMapper json = new ObjectMapper();
  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfy;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-cluster");
    // PostgreSQL runs as its own user when the tests run as root: it must reach its data folder
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
    ChaosInvert.install(root, "cluster");
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
  }

  @AfterEach
  void tearDown() {
    processes.close();
    comfy.close();
  }

  @Test
  void generationsSurviveKillsOfWorkerApiServerAndDatabaseWithNoneLostAndOneBackendRunEach()
      throws Exception {
    long clusterStarted = System.nanoTime();
    TemporalCluster cluster = new TemporalCluster(processes, root.resolve("cluster")).start();
    List<String> log = new ArrayList<>();
    log.add("cluster up (PostgreSQL, schema, server, namespace) in " + since(clusterStarted));

    Map<String, String> env =
        RealProcesses.workerEnvironment(
            cluster.port(),
            comfy.baseUrl(),
            root,
            "TEMPERA_SLOTS",
            "2",
            // a worker restarted within the host timeout keeps its leases and re-attaches to its
            // runs (one backend run each, as asserted); see ChaosIT
            "TEMPERA_HOST_TIMEOUT_SECONDS",
            "120",
            // one JSON object a line, a generation's ids on each of its lines
            "TEMPERA_LOG_FORMAT",
            "json");
    Process worker = processes.startWorker("cluster-worker-0", env);
    int apiPort = RealProcesses.freePort();
    Process api =
        processes.startApi("cluster-api-0", apiPort, env, "--tempera.search-attributes=true");
    RealProcesses.awaitPort(apiPort);

    // each generation its own step count (40..71 steps of 30 ms): distinct graphs, no cache hits
    Map<String, Integer> stepsById = new LinkedHashMap<>();
    for (int i = 0; i < GENERATIONS; i++) {
      int steps = 40 + i;
      stepsById.put(
          ChaosInvert.start(
              processes, apiPort, "cluster", "node-" + i, "cluster-" + i, null, steps),
          steps);
    }

    // the worker
    // (the API asks a running generation's workflow for its state: with no worker, or no server,
    // that waits; so what is in flight is counted before each kill)
    awaitRunning(apiPort, stepsById, "before killing the worker");
    long notEnded = inFlight(apiPort, stepsById);
    worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    log.add("worker killed with " + notEnded + " generations not ended");
    worker = processes.startWorker("cluster-worker-1", env);

    // the API
    awaitRunning(apiPort, stepsById, "before killing the API");
    notEnded = inFlight(apiPort, stepsById);
    api.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    long apiKilled = System.nanoTime();
    api = processes.startApi("cluster-api-1", apiPort, env, "--tempera.search-attributes=true");
    RealProcesses.awaitPort(apiPort);
    log.add(
        "API killed with "
            + notEnded
            + " generations not ended, answering again after "
            + since(apiKilled));

    // the Temporal server
    awaitRunning(apiPort, stepsById, "before killing the Temporal server");
    notEnded = inFlight(apiPort, stepsById);
    long serverKilled = System.nanoTime();
    cluster.killServer();
    // the API's readiness tells the load balancer, and turns back once the server answers
    await("the API not ready while the Temporal server is down")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> processes.readiness(apiPort) == 503);
    long notReady = System.nanoTime() - serverKilled;
    cluster.startServer();
    await("the API ready again")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> processes.readiness(apiPort) == 200);
    log.add(
        "Temporal server killed with "
            + notEnded
            + " generations not ended: the API's readiness DOWN after "
            + notReady / 1_000_000
            + " ms, UP again "
            + since(serverKilled)
            + " after the kill");

    // PostgreSQL, restarted on its data
    awaitRunning(apiPort, stepsById, "before killing PostgreSQL");
    notEnded = inFlight(apiPort, stepsById);
    Duration dbDown = cluster.killAndRestartPostgres(Duration.ofSeconds(2));
    log.add(
        "PostgreSQL killed with "
            + notEnded
            + " generations not ended, accepting connections again after "
            + dbDown.toMillis()
            + " ms");

    long drainStarted = System.nanoTime();
    try {
      await("every generation ended")
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofSeconds(1))
          .ignoreExceptions()
          .until(() ->
              processes.statuses(apiPort, stepsById.keySet()).values().stream()
                  .allMatch(RealProcesses::terminal));
    } catch (ConditionTimeoutException notAllEnded) {
      // the assertions below tell which did not, with the run's summary
    }
    log.add("all ended " + since(drainStarted) + " after the last restart");
    Map<String, String> statuses = processes.statuses(apiPort, stepsById.keySet());
    Map<String, Long> byStatus =
        statuses.values().stream()
            .collect(Collectors.groupingBy(s -> s, TreeMap::new, Collectors.counting()));
    Map<Integer, Long> executionsBySteps = ChaosInvert.executionsBySteps(comfy);
    long duplicates = executionsBySteps.values().stream().filter(count -> count > 1).count();
    String summary =
        String.join("; ", log)
            + "; final statuses "
            + byStatus
            + "; backend executions "
            + comfy.executions().size()
            + " ("
            + duplicates
            + " generations run more than once)";
    Files.writeString(
        Path.of("target", "cluster-durability.txt"), summary + System.lineSeparator());
    System.out.println("[cluster] " + summary);

    assertThat(statuses)
        .as("every generation is found (none lost): %s", summary)
        .hasSize(GENERATIONS)
        .doesNotContainValue("MISSING");
    assertThat(byStatus)
        .as("no injected backend faults, so every generation succeeds: %s", summary)
        .containsOnlyKeys("SUCCEEDED");
    for (Map.Entry<String, Integer> generation : stepsById.entrySet()) {
      assertThat(executionsBySteps.getOrDefault(generation.getValue(), 0L))
          .as(
              "backend runs of %s (%d steps): %s",
              generation.getKey(), generation.getValue(), summary)
          .isEqualTo(1L);
    }
    String someId = stepsById.keySet().iterator().next();
    JsonNode state = json.readTree(processes.get(apiPort, "/api/generations/" + someId).body());
    var png = processes.getBytes(apiPort, state.path("outputs").path(0).path("url").asText());
    assertThat(png.statusCode()).isEqualTo(200);
    assertThat(
            TestImages.isInverted(
                TestImages.sample(), ImageIO.read(new ByteArrayInputStream(png.body()))))
        .as("the output of %s is the inverted input", someId)
        .isTrue();

    // the real server's visibility (PostgreSQL) finds them by the Tempera search attributes
    await("visibility caught up")
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .untilAsserted(() ->
            assertThat(
                    cluster.cli(
                        "workflow",
                        "count",
                        "--query",
                        "TemperaProject='cluster' AND TemperaStatus='SUCCEEDED' AND ExecutionStatus='Completed'"))
                .contains("Total: " + GENERATIONS));
    assertThat(
            cluster.cli(
                "workflow",
                "count",
                "--query",
                "TemperaFunction='chaos-invert' AND TemperaStatus='FAILED'"))
        .contains("Total: 0");
    // and the Temporal UI serves it
    Process ui = cluster.startUi();
    var namespaces =
        processes
            .http()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:" + cluster.uiPort() + "/api/v1/namespaces/default"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(namespaces.statusCode()).as(namespaces.body()).isEqualTo(200);
    assertThat(ui.isAlive()).isTrue();

    // the operator command line, on the real server's visibility
    String listed =
        ops(cluster, "list", "--project", "cluster", "--status", "succeeded", "--limit", "100");
    for (String id : stepsById.keySet()) {
      assertThat(listed).as("ops list").contains(id);
    }
    assertThat(ops(cluster, "show", someId))
        .contains("SUCCEEDED")
        .contains("Lease a slot")
        .contains("chaos-invert");

    // one generation's lines are found in the API's and the worker's logs by the same ids
    String needle = "\"generationId\":\"" + someId + "\"";
    assertThat(linesOf("cluster-api-", needle)).as("API log lines of %s", someId).isPositive();
    assertThat(linesOf("cluster-worker-", needle))
        .as("worker log lines of %s", someId)
        .isPositive();
  }

  /** What {@code ./tempera ops ARGS} prints on the cluster (the API jar's command line). */
  private String ops(TemporalCluster cluster, String... args) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                RealProcesses.apiJar(),
                "ops"));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("TEMPORAL_ADDRESS", cluster.address());
    Process process = builder.start();
    String out =
        new String(
            process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("ops %s: %s", String.join(" ", args), out).isZero();
    return out;
  }

  /** How many lines of the logs of processes named {@code prefix}… contain {@code needle}. */
  private static long linesOf(String prefix, String needle) throws java.io.IOException {
    long count = 0;
    try (var files = Files.list(Path.of("target"))) {
      for (Path file : files.filter(f -> f.getFileName().toString().startsWith(prefix)).toList()) {
        try (var lines = Files.lines(file)) {
          count += lines.filter(line -> line.contains(needle)).count();
        }
      }
    }
    return count;
  }

  /** Waits until some generation is running and some are still to run. */
  private void awaitRunning(int apiPort, Map<String, Integer> stepsById, String when) {
    await(when + ": a generation running and some still to run")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(() -> {
          Map<String, String> statuses = processes.statuses(apiPort, stepsById.keySet());
          return statuses.containsValue("RUNNING")
              && statuses.values().stream().filter(s -> !RealProcesses.terminal(s)).count() > 2;
        });
  }

  private long inFlight(int apiPort, Map<String, Integer> stepsById) throws Exception {
    return processes.statuses(apiPort, stepsById.keySet()).values().stream()
        .filter(s -> !RealProcesses.terminal(s))
        .count();
  }

  private static String since(long startedNanos) {
    return (System.nanoTime() - startedNanos) / 1_000_000 + " ms";
  }
}
