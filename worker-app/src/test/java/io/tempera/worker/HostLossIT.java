package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.HostRegistration;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
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
 * Losing a GPU host for good, with real processes: a Temporal dev server and two worker hosts
 * (host-a, host-b), each with one slot and its own ComfyUI, on the default host timeout. host-a
 * dies mid-run (its worker killed with SIGKILL, its ComfyUI gone with it) and stays down: its
 * generation runs again on host-b within #13's 30 s, finishes there with a warning saying it moved,
 * and the next generation is never leased to the dead host.
 */
class HostLossIT {

  /** #13's target: running again on another host within 30 s of the host's death. */
  private static final Duration MOVED_WITHIN = Duration.ofSeconds(30);

  private final RealProcesses processes = new RealProcesses();
  private Path root;
  private ComfyUiTestServer comfyA;
  private ComfyUiTestServer comfyB;
  private WorkflowServiceStubs service;
  private int temporalPort;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-host-loss");
    RealProcesses.copyTemplatesWithSlowInvert(root);
    TestImages.writePng(TestImages.sample(), root.resolve("outputs/loss/uploads/sample.png"));
    comfyA = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfy-a")));
    comfyB = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfy-b")));
    temporalPort = processes.startTemporal();
    service = RealProcesses.serviceStubs(temporalPort);
  }

  @AfterEach
  void tearDown() {
    processes.close();
    if (service != null) {
      service.shutdownNow();
    }
    comfyA.close();
    comfyB.close();
  }

  @Test
  void aHostThatDiesAndStaysDownHasItsGenerationMovedToAnotherWithin30Seconds() throws Exception {
    WorkflowClient client =
        WorkflowClient.newInstance(service, WorkflowClientOptions.newBuilder().build());
    SlotAllocatorClient slots = new SlotAllocatorClient(client, null);
    // host-a registers first, so the first generation is placed there
    Process hostA = startHost("host-a", comfyA);
    awaitRegistered(slots, List.of("host-a"));
    startHost("host-b", comfyB);
    awaitRegistered(slots, List.of("host-a", "host-b"));

    CompletableFuture<GenerationResult> first = generate(client, "gen-moves", 150);
    await("host-a runs the first generation")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> comfyA.acceptedPromptCount() > 0);
    Thread.sleep(1_000); // a second into its run

    // the machine dies: its worker (SIGKILL, no goodbye) and its ComfyUI
    long diedAt = System.nanoTime();
    hostA.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    comfyA.close();

    await("the generation runs again on host-b")
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> comfyB.acceptedPromptCount() > 0);
    Duration moved = Duration.ofNanos(System.nanoTime() - diedAt);
    System.out.printf(
        "HostLossIT: running again on host-b %d ms after host-a died (target: within %d s)%n",
        moved.toMillis(), MOVED_WITHIN.toSeconds());
    assertThat(moved).as("running again elsewhere within #13's target").isLessThan(MOVED_WITHIN);

    AllocatorState state = slots.state("default");
    assertThat(state.lostHosts()).containsExactly("host-a");
    assertThat(state.leases())
        .as("the dead host holds no lease")
        .allSatisfy(l -> assertThat(l.hostId()).isEqualTo("host-b"));

    // a generation asked for now is never leased to the dead host: it waits for host-b's slot
    CompletableFuture<GenerationResult> second = generate(client, "gen-after-loss", 5);

    GenerationResult finished = first.get(120, TimeUnit.SECONDS);
    assertThat(finished.status()).as("%s", finished.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(finished.warnings())
        .as("the person is told why it took longer")
        .anySatisfy(w ->
            assertThat(w).startsWith("Moved to another GPU: GPU host host-a stopped answering"));
    Path output = root.resolve("outputs").resolve(finished.outputs().get(0).path());
    assertThat(TestImages.isInverted(TestImages.sample(), ImageIO.read(output.toFile()))).isTrue();

    GenerationResult after = second.get(120, TimeUnit.SECONDS);
    assertThat(after.status()).as("%s", after.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(after.warnings()).noneMatch(w -> w.startsWith("Moved"));
    assertThat(comfyB.acceptedPromptCount()).as("both ran on host-b").isEqualTo(2);
    await("no lease left")
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(slots.state("default").leases()).isEmpty());
  }

  private Process startHost(String hostId, ComfyUiTestServer comfy) throws Exception {
    return processes.startWorker(
        "worker-" + hostId,
        RealProcesses.workerEnvironment(
            temporalPort, comfy.baseUrl(), root, "TEMPERA_HOST_ID", hostId, "TEMPERA_SLOTS", "1"));
  }

  private static void awaitRegistered(SlotAllocatorClient slots, List<String> hostIds) {
    await("hosts " + hostIds + " registered")
        .atMost(Duration.ofSeconds(180)) // a JVM starting on a busy 2-core machine
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(() ->
            slots.state("default").hosts().stream()
                .map(HostRegistration::hostId)
                .toList()
                .equals(hostIds));
  }

  private static CompletableFuture<GenerationResult> generate(
      WorkflowClient client, String id, int steps) {
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.taskQueueFor("standard"))
                .setWorkflowId(id)
                .build());
    return WorkflowClient.execute(
        workflow::run,
        new GenerationRequest(
            "slow-invert",
            "standard",
            Map.of("image", "uploads/sample.png", "steps", steps),
            "loss",
            "node-" + id,
            null));
  }
}
