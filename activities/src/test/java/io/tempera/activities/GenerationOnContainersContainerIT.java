package io.tempera.activities;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Container;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.containers.DockerModelHost;
import io.tempera.containers.DockerModelHostOptions;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.AllocatorState;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowClient;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on a real Docker engine (container suite, {@code -Pcontainers}): a generation
 * leases a slot from the allocator, its model's container (the testkit ComfyUI image built by
 * {@code scripts/build-test-images.sh}) is started on the leased host, the run goes to the
 * container over the ComfyUI protocol, the outputs are collected, model and lease are released. The
 * worker's configured ComfyUI endpoint does not exist: only the container can serve a run.
 */
class GenerationOnContainersContainerIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static DockerClient docker;

  @TempDir Path tmp;
  private String hostId;
  private TestHost host;
  private WorkflowClient workflows;
  private DockerModelHost modelHost;
  private OutputStore outputs;
  private ComfyUiClient nowhere;

  @BeforeAll
  static void engine() {
    docker = DockerModelHost.connect(System.getenv("DOCKER_HOST"));
    try {
      docker.pingCmd().exec();
    } catch (RuntimeException e) {
      fail(
          "The container tests need a running Docker engine (scripts/ensure-docker.sh): "
              + e.getMessage());
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    hostId = "gen-it-" + UUID.randomUUID().toString().substring(0, 8);
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    TestFiles.copyTree(
        Path.of("src/test/resources/container-templates/slow-invert-in-container"),
        templates.resolve("functions/slow-invert-in-container"));
    TemplateRegistry registry = new TemplateRegistry(templates, JSON, 0);
    assertThat(registry.find("slow-invert-in-container"))
        .as("test template loaded: %s", registry.problems())
        .isPresent();
    outputs = new OutputStore(tmp.resolve("outputs"));
    TestImages.writePng(
        TestImages.sample(), outputs.projectDir("p1").resolve("uploads/sample.png"));

    modelHost =
        new DockerModelHost(
            docker,
            new DockerModelHostOptions(
                hostId,
                Map.of(0, 4_000),
                false,
                Duration.ofMinutes(5),
                Duration.ofMillis(250),
                Duration.ofSeconds(2),
                Duration.ofSeconds(2),
                20,
                null),
            new SimpleMeterRegistry());
    nowhere = new ComfyUiClient(URI.create("http://127.0.0.1:1"), ComfyUiClientOptions.defaults());
    // real time: real containers take real seconds, and a skipped clock fires a waiting
    // generation's slot-wait timer before the allocator's grant arrives. The model host runs
    // containers, so planning keeps the registry's containerised models.
    host =
        TestHost.builder(
                registry,
                new BackendRegistry(List.of(ComfyUiBackend.single(nowhere))),
                outputs,
                new InProcessProgressBus())
            .modelHost(modelHost)
            .slots(2)
            .vramMb(4_000)
            .realTime()
            .start();
    workflows = host.client;
  }

  @AfterEach
  void tearDown() {
    host.close();
    nowhere.close();
    modelHost.close();
    List<Container> left = containersOfHost();
    left.forEach(c -> docker.removeContainerCmd(c.getId()).withForce(true).exec());
    assertThat(left).as("containers of host " + hostId + " left behind").isEmpty();
  }

  private List<Container> containersOfHost() {
    return docker
        .listContainersCmd()
        .withShowAll(true)
        .withLabelFilter(Map.of(DockerModelHost.LABEL_HOST, hostId))
        .exec();
  }

  private GenerationWorkflow stub(String id, String tier) {
    return host.workflow(id, GenerationWorkflow.taskQueueFor(tier));
  }

  /** True when the container's ComfyUI reports a prompt in queue_running. */
  private static boolean runningAPrompt(Container container) {
    Integer port =
        java.util.Arrays.stream(container.getPorts())
            .map(com.github.dockerjava.api.model.ContainerPort::getPublicPort)
            .filter(java.util.Objects::nonNull)
            .findFirst()
            .orElse(null);
    if (port == null) {
      return false;
    }
    try {
      var response =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + port + "/queue"))
                      .timeout(Duration.ofSeconds(2))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200
          && JSON.readTree(response.body()).path("queue_running").size() > 0;
    } catch (Exception notYet) {
      return false;
    }
  }

  /**
   * Every lease given back and nobody left in line (the release is a signal: it may land just after
   * the end).
   */
  private void assertNothingHeld() {
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> {
          AllocatorState state = host.allocatorState();
          assertThat(state.leases()).as("leases left").isEmpty();
          assertThat(state.waiters()).as("waiters left").isEmpty();
        });
  }

  private BufferedImage output(GenerationResult result) throws Exception {
    return ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
  }

  @Test
  void aGenerationStartsItsModelsContainerRunsThereAndTheNextOneReusesIt() throws Exception {
    Map<String, Object> image = Map.of("image", "uploads/sample.png");
    GenerationResult first =
        TestHost.runToEnd(
            stub("gen-container-1", "ultra"),
            new GenerationRequest("invert", "ultra", image, "p1", "n1", null));

    assertThat(first.status()).as("%s", first.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    BufferedImage out = output(first);
    assertThat(out.getWidth())
        .as("ultra doubles the size")
        .isEqualTo(TestImages.sample().getWidth() * 2);
    assertThat(
            workflows
                .newWorkflowStub(GenerationWorkflow.class, "gen-container-1")
                .state()
                .modelColdStartMillis())
        .as("the cold start, in the state")
        .isPositive();
    List<Container> containers = containersOfHost();
    assertThat(containers)
        .as("one model container, kept running idle for the next generation")
        .hasSize(1);
    assertThat(containers.get(0).getState()).isEqualTo("running");

    GenerationResult second =
        TestHost.runToEnd(
            stub("gen-container-2", "ultra"),
            new GenerationRequest("invert", "ultra", image, "p1", "n2", null));

    assertThat(second.status()).as("%s", second.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(containersOfHost())
        .extracting(Container::getId)
        .as("the same container served it")
        .containsExactly(containers.get(0).getId());
    assertThat(
            workflows
                .newWorkflowStub(GenerationWorkflow.class, "gen-container-2")
                .state()
                .modelColdStartMillis())
        .as("reused: no cold start")
        .isZero();
    assertNothingHeld();
  }

  @Test
  void aContainerKilledMidGenerationIsRestartedAndTheGenerationRetriedThere() throws Exception {
    GenerationWorkflow workflow = stub("gen-container-crash", "standard");
    WorkflowClient.start(
        workflow::run,
        new GenerationRequest(
            "slow-invert-in-container",
            "standard",
            Map.of("image", "uploads/sample.png", "steps", 40),
            "p1",
            "n3",
            null));

    // wait until the container's ComfyUI is running the prompt (its /queue shows it)
    List<Container> before;
    try {
      before =
          await()
              .atMost(Duration.ofSeconds(120))
              .pollInterval(Duration.ofMillis(100))
              .until(
                  this::containersOfHost,
                  containers -> !containers.isEmpty() && runningAPrompt(containers.get(0)));
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(
          "the generation never got going on its container: " + workflow.state(), e);
    }
    assertThat(before).hasSize(1);
    docker.killContainerCmd(before.get(0).getId()).exec(); // the model server dies mid-run

    GenerationResult finished = host.endOf("gen-container-crash");

    assertThat(finished.status()).as("%s", finished.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(TestImages.isInverted(TestImages.sample(), output(finished))).isTrue();
    List<Container> after = containersOfHost();
    assertThat(after).as("a restarted container").hasSize(1);
    assertThat(after.get(0).getId()).isNotEqualTo(before.get(0).getId());
    assertNothingHeld();
  }
}
