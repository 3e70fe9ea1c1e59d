package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;

import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Durability with real processes: a real Temporal server, a worker process from the packaged app
 * jar, and the testkit ComfyUI. The worker is killed with SIGKILL mid-generation and started again:
 * the generation completes, re-attached to the same ComfyUI prompt (no second run). The API is
 * killed after accepting a generation: another API instance finds it by its requestId.
 */
class CrashRecoveryIT {

  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfy;
  private WorkflowServiceStubs service;
  private int temporalPort;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-crash");
    RealProcesses.copyTemplatesWithSlowInvert(root);
    TestImages.writePng(
        TestImages.sample(), root.resolve("outputs/crash-project/uploads/sample.png"));
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
    temporalPort = processes.startTemporal();
    service = RealProcesses.serviceStubs(temporalPort);
  }

  @AfterEach
  void tearDown() {
    processes.close();
    if (service != null) {
      service.shutdownNow();
    }
    comfy.close();
  }

  @Test
  void killingTheWorkerMidGenerationLosesNothingAndRunsTheBackendOnce() throws Exception {
    Process worker = startWorker("worker-1");
    WorkflowClient client =
        WorkflowClient.newInstance(service, WorkflowClientOptions.newBuilder().build());
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.taskQueueFor("standard"))
                .setWorkflowId("gen-crash-test")
                .build());
    CompletableFuture<GenerationResult> result =
        WorkflowClient.execute(
            workflow::run,
            new GenerationRequest(
                "slow-invert",
                "standard",
                Map.of("image", "uploads/sample.png", "steps", 60),
                "crash-project",
                "node-1",
                null));

    await("the first worker submitted the prompt")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> comfy.acceptedPromptCount() > 0);
    assertThat(comfy.acceptedPromptCount())
        .as("the first worker submitted the prompt")
        .isEqualTo(1);
    Thread.sleep(500);
    worker
        .destroyForcibly()
        .waitFor(10, TimeUnit.SECONDS); // SIGKILL: no shutdown hooks, no goodbye

    startWorker("worker-2");
    GenerationResult finished;
    try {
      finished = result.get(90, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      StringBuilder events = new StringBuilder();
      client
          .fetchHistory("gen-crash-test")
          .getEvents()
          .forEach(ev -> events.append(ev.getEventType()).append('\n'));
      throw new AssertionError(
          "the generation did not finish after the worker restart; history:\n" + events, e);
    }

    assertThat(finished.status()).as("%s", finished.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.promptPostCount())
        .as("the restarted worker re-attached instead of submitting again")
        .isEqualTo(1);
    Path output = root.resolve("outputs").resolve(finished.outputs().get(0).path());
    assertThat(TestImages.isInverted(TestImages.sample(), ImageIO.read(output.toFile()))).isTrue();
    assertNoLeaseLeft(client);
  }

  /** The slot pool's allocator holds no lease and no waiter once every generation ended. */
  private static void assertNoLeaseLeft(WorkflowClient client) {
    io.tempera.activities.slots.SlotAllocatorClient slots =
        new io.tempera.activities.slots.SlotAllocatorClient(client, null);
    await("no lease and no waiter left")
        .atMost(Duration.ofSeconds(30))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(() -> {
          io.tempera.slots.AllocatorState state = slots.state("default");
          assertThat(state.leases()).as("leases left behind").isEmpty();
          assertThat(state.waiters()).as("waiters left behind").isEmpty();
        });
  }

  @Test
  void theLeaseOfATerminatedGenerationIsReclaimedAndTheNextInLineRuns() throws Exception {
    processes.startWorker(
        "worker-reclaim",
        workerEnvironment(),
        "--tempera.worker.slots=1",
        "--tempera.worker.prefetch=0", // the only slot is the only lease: the next one waits in
        // line
        "--tempera.worker.reclaim-every-seconds=2");
    WorkflowClient client =
        WorkflowClient.newInstance(service, WorkflowClientOptions.newBuilder().build());
    String queue = GenerationWorkflow.taskQueueFor("standard");
    GenerationWorkflow holding =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder().setTaskQueue(queue).setWorkflowId("gen-holding").build());
    WorkflowClient.start(
        holding::run,
        new GenerationRequest(
            "slow-invert",
            "standard",
            Map.of("image", "uploads/sample.png", "steps", 30),
            "crash-project",
            "node-4",
            null));
    await("the first generation runs")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> comfy.acceptedPromptCount() > 0);
    assertThat(comfy.acceptedPromptCount())
        .as("the first generation holds the only slot and runs")
        .isEqualTo(1);
    GenerationWorkflow waiting =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(queue)
                .setWorkflowId("gen-next-in-line")
                .build());
    CompletableFuture<GenerationResult> next =
        WorkflowClient.execute(
            waiting::run,
            new GenerationRequest(
                "invert",
                "standard",
                Map.of("image", "uploads/sample.png"),
                "crash-project",
                "node-5",
                null));
    await("the second waits first in line")
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() ->
            assertThat(waiting.state().queuePosition())
                .as("the second waits first in line")
                .isEqualTo(1));

    // terminated: the generation's own cleanup never runs, so only the allocator can give the slot
    // back
    client.newUntypedWorkflowStub("gen-holding").terminate("operator terminated it");

    GenerationResult finished = next.get(90, TimeUnit.SECONDS);
    assertThat(finished.status()).as("%s", finished.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertNoLeaseLeft(client);
  }

  @Test
  void killingTheApiLosesNothingAndARetriedPostFindsTheSameGeneration() throws Exception {
    startWorker("worker-api-test");
    int firstPort = RealProcesses.freePort();
    Process firstApi = startApi("api-1", firstPort);
    RealProcesses.awaitPort(firstPort);
    String body =
        "{\"functionId\":\"slow-invert\",\"projectId\":\"crash-project\",\"nodeId\":\"node-2\","
            + "\"requestId\":\"api-crash-1\",\"parameters\":{\"image\":\"uploads/sample.png\",\"steps\":30}}";
    java.net.http.HttpResponse<String> accepted = post(firstPort, "/api/generations", body);
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = RealProcesses.generationId("crash-project", "api-crash-1");
    assertThat(accepted.body()).contains("\"id\":\"" + id + "\"");
    firstApi.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

    int secondPort = RealProcesses.freePort();
    startApi("api-2", secondPort);
    RealProcesses.awaitPort(secondPort);
    java.net.http.HttpResponse<String> again = post(secondPort, "/api/generations", body);
    assertThat(again.statusCode()).isEqualTo(202);
    assertThat(again.body()).contains("\"id\":\"" + id + "\"");

    String state =
        await(id + " succeeded")
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(250))
            .until(
                () -> get(secondPort, "/api/generations/" + id).body(),
                containsString("\"status\":\"SUCCEEDED\""));
    assertThat(comfy.promptPostCount()).as("one generation, one backend run").isEqualTo(1);
    // the output's url (the state also lists the uploaded input with a url of its own)
    String url =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(state)
            .path("outputs")
            .path(0)
            .path("url")
            .asText();
    assertThat(url).as(state).isNotEmpty();
    java.net.http.HttpResponse<byte[]> png = processes.getBytes(secondPort, url);
    assertThat(png.statusCode()).isEqualTo(200);
    assertThat(
            TestImages.isInverted(
                TestImages.sample(), ImageIO.read(new java.io.ByteArrayInputStream(png.body()))))
        .isTrue();
  }

  @Test
  void progressFromAWorkerProcessReachesAnApiProcessThroughRedis() throws Exception {
    int redisPort = RealProcesses.freePort();
    processes.startProcess(
        "redis",
        List.of(
            io.tempera.testkit.fixtures.TestProcesses.redisServer(),
            "--port",
            Integer.toString(redisPort),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no"),
        Map.of());
    RealProcesses.awaitPort(redisPort);
    String redisUrl = "redis://127.0.0.1:" + redisPort;
    processes.startWorker(
        "worker-redis", workerEnvironment(), "--tempera.progress.redis-url=" + redisUrl);
    int apiPort = RealProcesses.freePort();
    startApi("api-redis", apiPort, "--tempera.progress.redis-url=" + redisUrl);
    RealProcesses.awaitPort(apiPort);

    java.net.http.HttpResponse<String> accepted =
        post(
            apiPort,
            "/api/generations",
            "{\"functionId\":\"slow-invert\",\"projectId\":\"crash-project\",\"nodeId\":\"node-3\",\"requestId\":\"redis-1\","
                + "\"parameters\":{\"image\":\"uploads/sample.png\",\"steps\":20}}");
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = RealProcesses.generationId("crash-project", "redis-1");
    assertThat(accepted.body()).contains("\"id\":\"" + id + "\"");
    java.net.http.HttpResponse<java.util.stream.Stream<String>> events =
        processes
            .http()
            .send(
                processes
                    .authorized(
                        apiPort,
                        java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(
                                "http://127.0.0.1:"
                                    + apiPort
                                    + "/api/generations/"
                                    + id
                                    + "/events")))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofLines());
    List<String> lines =
        events
            .body()
            .takeWhile(
                line -> !line.startsWith("event:succeeded") && !line.startsWith("event:failed"))
            .filter(line -> line.startsWith("data:"))
            .toList();
    assertThat(lines)
        .as("step progress from the worker process, carried by Redis")
        .anySatisfy(line -> assertThat(line).contains("\"step\":").contains("\"totalSteps\":20"));
  }

  private java.net.http.HttpResponse<String> post(int port, String path, String json)
      throws Exception {
    return processes.post(port, path, json);
  }

  private java.net.http.HttpResponse<String> get(int port, String path) throws Exception {
    return processes.get(port, path);
  }

  private Process startApi(String name, int port, String... args) throws IOException {
    return processes.startApi(
        name,
        port,
        Map.of(
            "TEMPORAL_ADDRESS", "127.0.0.1:" + temporalPort,
            "TEMPERA_OUTPUT_ROOT", root.resolve("outputs").toString(),
            "TEMPERA_TEMPLATES_DIR", root.resolve("templates").toString()),
        args);
  }

  private Process startWorker(String name) throws IOException {
    return processes.startWorker(name, workerEnvironment());
  }

  /**
   * A worker restarted within its host timeout keeps its leases and re-attaches to its runs, as
   * these tests assert; one away longer is lost and its work moves (HostLossIT). A JVM restart on a
   * busy 2-core machine can take 15 s, so the timeout here is 120 s.
   */
  private Map<String, String> workerEnvironment() {
    return RealProcesses.workerEnvironment(
        temporalPort, comfy.baseUrl(), root, "TEMPERA_HOST_TIMEOUT_SECONDS", "120");
  }
}
