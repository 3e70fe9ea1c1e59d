package io.tempera.activities;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.containers.ModelHost;
import io.tempera.containers.ModelHostException;
import io.tempera.containers.RunningModel;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.PlanningActivities;
import io.tempera.models.ModelSpec;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.AllocatorState;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real activities with the slot allocator, as a worker host runs them: the generation starts on
 * its tier's queue, leases a slot, and every later step runs on the host's own queue against the
 * testkit ComfyUI; a containerised model's service (here a second testkit ComfyUI the model host
 * starts) is where the run goes.
 */
class GenerationOnSlotsAndModelsTest {

  private static final String TIER_QUEUE = GenerationWorkflow.taskQueueFor("standard");

  @TempDir Path tmp;
  private ComfyUiTestServer comfy;
  private ComfyUiClient client;
  private TestHost host;
  private OutputStore outputs;
  private TemplateRegistry registry;
  private final TestModelHost models = new TestModelHost();

  @BeforeEach
  void setUp() throws IOException {
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfyui")));
    client = new ComfyUiClient(comfy.baseUrl(), ComfyUiClientOptions.defaults());
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    ObjectMapper json = new ObjectMapper();
    registry = new TemplateRegistry(templates, json, 0);
    outputs = new OutputStore(tmp.resolve("outputs"));
    TestImages.writePng(
        TestImages.sample(), outputs.projectDir("p1").resolve("uploads/sample.png"));
  }

  @AfterEach
  void tearDown() {
    if (host != null) {
      host.close();
    }
    client.close();
    models.stopAll();
    comfy.close();
  }

  /**
   * A host ({@link TestHost}: two slots on a 24 GB GPU) whose model registry holds {@code
   * registryModels}, planning {@code planModel} for every generation when not null. Its generation
   * queues run only planning and lease requests (no backend at all): a step that ran there instead
   * of on the host's queue would fail.
   */
  private void startWorkers(
      ModelHost modelHost, Map<String, ModelSpec> registryModels, ModelSpec planModel) {
    host =
        hostOnTheTestkit()
            .modelHost(modelHost)
            .slots(2)
            .vramMb(24_000)
            .models(id -> Optional.ofNullable(registryModels.get(id)))
            .planning(planModel == null ? null : real -> new WithModel(real, planModel))
            .start();
  }

  @Test
  void aGenerationLeasedAheadWaitsOnTheHostAndStartsTheMomentTheRunBeforeItEnds() throws Exception {
    java.nio.file.Files.createDirectories(tmp.resolve("templates/slow-invert"));
    TestFiles.copyTree(
        Path.of("src/test/resources/templates/slow-invert"), tmp.resolve("templates/slow-invert"));
    registry = new TemplateRegistry(tmp.resolve("templates"), new ObjectMapper(), 0);
    host = hostOnTheTestkit().slots(1).prefetch(1).realTime().start();
    GenerationRequest slow =
        new GenerationRequest(
            "slow-invert",
            "standard",
            Map.of("image", "uploads/sample.png", "steps", 30),
            "p1",
            "n1",
            null);
    var first =
        io.temporal.client.WorkflowClient.execute(
            host.workflow("gen-first", TIER_QUEUE)::run, slow);
    await().atMost(Duration.ofSeconds(30)).until(() -> comfy.acceptedPromptCount() == 1);
    var second =
        io.temporal.client.WorkflowClient.execute(
            host.workflow("gen-second", TIER_QUEUE)::run, slow);
    await("both hold a lease: one slot and one ready")
        .atMost(Duration.ofSeconds(30))
        .until(() -> host.allocatorState().leases().size() == 2);
    assertThat(comfy.acceptedPromptCount())
        .as("the one leased ahead is not submitted while the host's slot runs")
        .isEqualTo(1);
    assertThat(first.get(60, java.util.concurrent.TimeUnit.SECONDS).status())
        .isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(second.get(60, java.util.concurrent.TimeUnit.SECONDS).status())
        .isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.acceptedPromptCount()).isEqualTo(2);
    assertNothingHeld();
  }

  /** A host to configure, running on the testkit ComfyUI with this test's templates and outputs. */
  private TestHost.Builder hostOnTheTestkit() {
    return TestHost.builder(
        registry,
        new BackendRegistry(List.of(ComfyUiBackend.single(client))),
        outputs,
        new InProcessProgressBus());
  }

  private GenerationResult invert(String id) {
    return TestHost.runToEnd(
        host.workflow(id, TIER_QUEUE),
        new GenerationRequest(
            "invert", "standard", Map.of("image", "uploads/sample.png"), "p1", "n1", null));
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
          assertThat(state.leases()).isEmpty();
          assertThat(state.waiters()).isEmpty();
        });
  }

  @Test
  void aGenerationLeasesASlotAndRunsOnTheHostQueueEndToEnd() throws Exception {
    startWorkers(null, Map.of(), null);

    GenerationResult result = invert("gen-on-host");

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(
            TestImages.isInverted(
                TestImages.sample(),
                ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile())))
        .isTrue();
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    assertNothingHeld();
  }

  @Test
  void aContainerisedModelRunsOnTheServiceTheHostStartedAndIsReleased() throws Exception {
    ModelSpec model =
        new ModelSpec(
            "invert-gpu",
            "comfyui",
            "tempera/comfyui-test:1",
            List.of(),
            Map.of(),
            8188,
            "/system_stats",
            4_000,
            60,
            null);
    startWorkers(models, Map.of(), model);

    GenerationResult result = invert("gen-on-model");

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(models.acquired).containsExactly("gen-on-model:invert-gpu:0");
    assertThat(models.released).containsExactly("gen-on-model:invert-gpu");
    assertThat(models.promptsOn("invert-gpu"))
        .as("the run went to the model's own service")
        .isEqualTo(1);
    assertThat(comfy.promptPostCount()).as("not to the configured endpoint").isZero();
    assertThat(
            TestImages.isInverted(
                TestImages.sample(),
                ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile())))
        .isTrue();
    assertNothingHeld();
  }

  @Test
  void aTemplatesModelStartTimeoutIsWhatTheHostGivesTheModelToStart() throws Exception {
    Path function = registry.root().resolve("functions/slow-to-start");
    java.nio.file.Files.createDirectories(function);
    java.nio.file.Files.writeString(
        function.resolve("graph.json"),
        """
        {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
         "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "slow"}}}\
        """);
    java.nio.file.Files.writeString(
        function.resolve("template.json"),
        """
        {"id": "slow-to-start", "version": "1.0.0", "display_name": "Slow to start (test)",
         "backend": {"type": "comfyui", "graph": "graph.json"},
         "timeouts": {"model_start_seconds": 240},
         "tiers": {"standard": {"model": "testkit-comfyui", "timeouts": {"model_start_seconds": 420}}},
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}\
        """);
    // a host with a model host plans containerised models (as a worker with a container engine
    // does)
    startWorkers(models, Map.of(), null);
    ModelSpec shipped = registry.model("testkit-comfyui").orElseThrow();

    GenerationResult result =
        TestHost.runToEnd(
            host.workflow("gen-slow-start", TIER_QUEUE),
            new GenerationRequest("slow-to-start", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(shipped.startTimeoutSeconds()).isNotEqualTo(420);
    assertThat(models.startTimeouts)
        .as("the tier's own start timeout over the template's and the registry's")
        .containsExactly(420);
    assertNothingHeld();
  }

  @Test
  void withoutAContainerEngineAContainerisedModelFailsAsUnavailable() {
    ModelSpec model =
        new ModelSpec(
            "invert-gpu",
            "comfyui",
            "tempera/comfyui-test:1",
            List.of(),
            Map.of(),
            8188,
            "/system_stats",
            4_000,
            60,
            null);
    startWorkers(null, Map.of(), model);

    GenerationResult result = invert("gen-no-engine");

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("MODEL_UNAVAILABLE");
    assertThat(result.error().message())
        .contains("invert-gpu")
        .contains(TestHost.HOST_ID)
        .contains("runs no container engine");
    assertNothingHeld();
  }

  @Test
  void aModelThatFailsToLoadFallsBackToTheRegistrysFallbackModel() throws Exception {
    ModelSpec broken =
        new ModelSpec(
            "invert-broken",
            "comfyui",
            "tempera/broken:1",
            List.of(),
            Map.of(),
            8188,
            "/system_stats",
            4_000,
            60,
            "invert-cpu");
    ModelSpec cpu =
        new ModelSpec("invert-cpu", "comfyui", null, List.of(), Map.of(), 0, null, 0, 0, null);
    models.failing.add("invert-broken");
    startWorkers(models, Map.of("invert-cpu", cpu), broken);

    GenerationResult result = invert("gen-model-fallback");

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.warnings())
        .contains("Finished with a backup model because the preferred one failed to load");
    assertThat(comfy.promptPostCount())
        .as("the fallback is served by the configured endpoint")
        .isEqualTo(1);
    assertThat(models.released).contains("gen-model-fallback:invert-broken");
    assertNothingHeld();
  }

  /** Gives the plan a model (and the model's VRAM), as the model registry will. */
  private record WithModel(PlanningActivities delegate, ModelSpec model)
      implements PlanningActivities {
    @Override
    public GenerationPlan plan(GenerationRequest r) {
      GenerationPlan p = delegate.plan(r);
      return new GenerationPlan(
          p.functionId(),
          p.functionVersion(),
          p.tierRequested(),
          p.tierUsed(),
          p.backendType(),
          p.payload(),
          p.fileInputs(),
          p.timeoutSeconds(),
          p.warnings(),
          p.progressMessages(),
          p.variant(),
          model,
          p.timeouts(),
          model.vramMb() > 0 ? model.vramMb() : p.vramMb());
    }

    @Override
    public GenerationPlan planAtTier(GenerationRequest r, GenerationPlan p, String tier) {
      return delegate.planAtTier(r, p, tier);
    }

    @Override
    public GenerationPlan planOnModel(GenerationRequest r, GenerationPlan p, String modelId) {
      return delegate.planOnModel(r, p, modelId);
    }
  }

  /**
   * A model host whose "containers" are testkit ComfyUI servers in this process (the docker-java
   * host is tested on its own): a real service at a new URL per model.
   */
  private final class TestModelHost implements ModelHost {
    final List<String> acquired = new CopyOnWriteArrayList<>();
    final List<String> released = new CopyOnWriteArrayList<>();
    final List<String> failing = new CopyOnWriteArrayList<>();
    private final Map<String, ComfyUiTestServer> running = new ConcurrentHashMap<>();

    final List<Integer> startTimeouts = new CopyOnWriteArrayList<>();

    @Override
    public RunningModel acquire(String holder, ModelSpec model, Integer gpuIndex) {
      acquired.add(holder + ":" + model.id() + ":" + gpuIndex);
      startTimeouts.add(model.startTimeoutSeconds());
      if (failing.contains(model.id())) {
        throw new ModelHostException(
            ErrorCode.MODEL_UNAVAILABLE,
            "the container exited with code 1",
            "ImportError: no module named torch",
            null);
      }
      ComfyUiTestServer server =
          running.computeIfAbsent(
              model.id(),
              id ->
                  ComfyUiTestServer.start(
                      ComfyUiTestServer.Config.ephemeral(tmp.resolve("model-" + id))));
      return new RunningModel(
          model.id(), "container-" + model.id(), server.baseUrl().toString(), false, 1);
    }

    @Override
    public void release(String holder, String modelId) {
      released.add(holder + ":" + modelId);
    }

    int promptsOn(String modelId) {
      return running.get(modelId).promptPostCount();
    }

    void stopAll() {
      running.values().forEach(ComfyUiTestServer::close);
    }
  }
}
