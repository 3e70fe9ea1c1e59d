package io.tempera.generation;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.slots.LocalSlotPool;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generation workflow with the real activities against the protocol-faithful testkit ComfyUI
 * server, on Temporal's in-process test server.
 */
class GenerationOnComfyUiTest {

  @TempDir Path tmp;
  private ComfyUiTestServer comfy;
  private ComfyUiClient client;
  private TestWorkflowEnvironment env;
  private WorkflowClient workflows;
  private OutputStore outputs;
  private InProcessProgressBus bus;
  private LocalSlotPool slots;
  private GenerationActivitiesImpl real;
  private final List<ProgressEvent> events = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfyui")));
    client = new ComfyUiClient(comfy.baseUrl(), ComfyUiClientOptions.defaults());
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    TestFiles.copyTree(Path.of("src/test/resources/templates"), templates.resolve("test"));
    ObjectMapper json = new ObjectMapper();
    TemplateRegistry registry = new TemplateRegistry(templates, json, 0);
    assertThat(registry.problems()).isEmpty();
    outputs = new OutputStore(tmp.resolve("outputs"));
    bus = new InProcessProgressBus();
    slots = new LocalSlotPool("test", 2);
    real = new GenerationActivitiesImpl(
        registry, new TemplateTranslator(json), slots, new BackendRegistry(List.of(ComfyUiBackend.single(client), new io.tempera.backend.script.ScriptBackend(tmp.resolve("script-runs")))), outputs, bus, new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    env = TestWorkflowEnvironment.newInstance();
    workflows = env.getWorkflowClient();
  }

  private void startWorker(GenerationActivities activities) {
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    worker.registerActivitiesImplementations(activities);
    env.start();
  }

  @AfterEach
  void tearDown() {
    env.close();
    client.close();
    comfy.close();
  }

  private GenerationWorkflow workflow(String id) {
    return workflows.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId(id).build());
  }

  private GenerationRequest request(String function, Map<String, Object> parameters) {
    return new GenerationRequest(function, "standard", parameters, "project-1", "node-7", null);
  }

  private void uploadSample() throws IOException {
    TestImages.writePng(TestImages.sample(), outputs.projectDir("project-1").resolve("uploads/sample.png"));
  }

  @Test
  void invertsARealImageEndToEnd() throws Exception {
    startWorker(real);
    uploadSample();
    bus.subscribe("gen-invert", events::add);

    GenerationResult result = workflow("gen-invert").run(request("invert", Map.of("image", "uploads/sample.png")));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    OutputRef output = result.outputs().get(0);
    assertThat(output.path()).startsWith("project-1/outputs/renders/node-7/");
    assertThat(output.contentType()).isEqualTo("image/png");
    assertThat(output.width()).isEqualTo(4);
    BufferedImage stored = ImageIO.read(outputs.resolve(output.path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    assertThat(slots.inUse()).isZero();
    assertThat(events).extracting(ProgressEvent::phase).contains("RESOLVING", "GENERATING", "COLLECTING_OUTPUTS");
    assertThat(events).extracting(ProgressEvent::seq).isSorted();
  }

  @Test
  void aSlowGenerationReportsStepsAnEtaAndLivePreviews() throws Exception {
    startWorker(real);
    uploadSample();
    bus.subscribe("gen-live", events::add);

    GenerationResult result = workflow("gen-live").run(request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 12)));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(events).anySatisfy(e -> {
      assertThat(e.step()).isNotNull();
      assertThat(e.totalSteps()).isEqualTo(12);
      // the template's own words for the phase, with the backend's step count
      assertThat(e.message()).matches("Slowly inverting your image \\(step \\d+ of 12\\)");
    });
    assertThat(events).anySatisfy(e -> assertThat(e.etaSeconds()).isNotNull().isPositive());
    assertThat(events).anySatisfy(e -> assertThat(e.previewUrl()).isEqualTo("/api/generations/gen-live/preview"));
    // while the stepping node runs, every event keeps the step count: its previews too
    List<ProgressEvent> generating = events.stream().filter(e -> e.phase().equals("GENERATING")).toList();
    int first = 0;
    int last = generating.size() - 1;
    while (first < generating.size() && generating.get(first).step() == null) {
      first++;
    }
    while (last >= 0 && generating.get(last).step() == null) {
      last--;
    }
    assertThat(generating.subList(first, last + 1)).hasSizeGreaterThan(12)
        .allSatisfy(e -> assertThat(e.step()).as(e.message()).isNotNull());
    Path preview = outputs.previewFile("project-1", "gen-live");
    assertThat(OutputStore.contentType(preview)).isEqualTo("image/png");
    assertThat(ImageIO.read(preview.toFile()).getWidth()).isEqualTo(4);
  }

  @Test
  void aScriptFunctionRunsThroughTheSameWorkflow() throws Exception {
    startWorker(real);
    bus.subscribe("gen-script", events::add);
    GenerationResult result = workflow("gen-script").run(
        new GenerationRequest("gradient", "draft", Map.of("top", 0xff0000, "bottom", 0x0000ff), "project-1", "node-9", null));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    OutputRef output = result.outputs().get(0);
    assertThat(output.contentType()).isEqualTo("image/png");
    assertThat(output.width()).isEqualTo(128);
    BufferedImage image = ImageIO.read(outputs.resolve(output.path()).toFile());
    assertThat(image.getRGB(0, 0) & 0xffffff).isEqualTo(0xff0000);
    assertThat(image.getRGB(0, 127) & 0xffffff).isEqualTo(0x0000ff);
    assertThat(events).anySatisfy(e -> assertThat(e.step()).isNotNull());
    assertThat(comfy.promptPostCount()).isZero();
  }

  @Test
  void aBackendRestartMidRunFailsThatAttemptClearlyAndTheRetryRunsAgain() throws Exception {
    startWorker(real);
    uploadSample();
    bus.subscribe("gen-restart", events::add);
    GenerationWorkflow workflow = workflow("gen-restart");
    WorkflowClient.start(workflow::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 40)));
    long deadline = System.currentTimeMillis() + 15_000;
    while (events.stream().noneMatch(e -> e.step() != null) && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    int port = comfy.port();
    comfy.close(); // the backend dies mid-run and comes back empty, as a restarted ComfyUI does
    comfy = ComfyUiTestServer.start(new ComfyUiTestServer.Config(port, tmp.resolve("comfyui"), "127.0.0.1"));

    GenerationResult result =
        workflows.newUntypedWorkflowStub("gen-restart").getResult(60, TimeUnit.SECONDS, GenerationResult.class);

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.promptPostCount()).as("the restarted backend had lost the run: it was submitted again").isEqualTo(1);
    BufferedImage stored = ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
  }

  @Test
  void anEditedTemplateChangesNewGenerationsButNotOneAlreadyRunning() throws Exception {
    startWorker(real);
    uploadSample();
    bus.subscribe("gen-before-edit", events::add);
    GenerationWorkflow running = workflow("gen-before-edit");
    WorkflowClient.start(running::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 25)));
    long deadline = System.currentTimeMillis() + 15_000;
    while (events.stream().noneMatch(e -> e.step() != null) && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }

    // the author edits the function while it runs: a new output prefix and a new version
    Path template = tmp.resolve("templates/test/slow-invert/template.json");
    Path graph = tmp.resolve("templates/test/slow-invert/graph.json");
    Files.writeString(graph, Files.readString(graph).replace("\"filename_prefix\": \"slow\"", "\"filename_prefix\": \"edited\""));
    Files.writeString(template, Files.readString(template).replace("\"version\": \"1.0.0\"", "\"version\": \"1.1.0\""));

    GenerationResult before = workflows.newUntypedWorkflowStub("gen-before-edit").getResult(30, TimeUnit.SECONDS, GenerationResult.class);
    GenerationResult after = workflow("gen-after-edit").run(request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 2)));

    assertThat(before.functionVersion()).isEqualTo("1.0.0");
    assertThat(before.outputs().get(0).name()).contains("_slow_");
    assertThat(after.functionVersion()).isEqualTo("1.1.0");
    assertThat(after.outputs().get(0).name()).contains("_edited_");
  }

  @Test
  void outputsProducedBeforeAFailureAreKeptAndReported() {
    startWorker(real);
    GenerationResult result = workflow("gen-partial").run(request("partial", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(result.error().message()).contains("the decoder exploded").contains("TemperaFault");
    assertThat(result.outputs()).singleElement().satisfies(o -> {
      assertThat(o.name()).contains("partial_ok");
      assertThat(outputs.resolve(o.path())).exists();
    });
    assertThat(result.warnings()).contains("Kept 1 output(s) produced before the failure");
  }

  @Test
  void theTierChangesWhatTheBackendProduces() throws Exception {
    startWorker(real);
    uploadSample();
    GenerationResult draft = workflow("gen-draft").run(
        new GenerationRequest("generate-pattern", "draft", Map.of(), "project-1", "node-1", null));
    GenerationResult high = workflow("gen-high").run(
        new GenerationRequest("generate-pattern", "high", Map.of(), "project-1", "node-1", null));
    // ImagePadForOutpaint adds the 32px border on each side
    assertThat(draft.outputs().get(0).width()).isEqualTo(256 + 64);
    assertThat(high.outputs().get(0).width()).isEqualTo(768 + 64);

    // computed sizes: the tier's base width times the scale parameter, plus the tier's frame
    GenerationResult framed = workflow("gen-framed").run(
        new GenerationRequest("framed-color", "standard", Map.of("mood", "warm", "scale", 0.5, "soft", true), "project-1", "node-1", null));
    assertThat(framed.outputs().get(0).width()).isEqualTo(128 + 32);
    assertThat(framed.outputs().get(0).height()).isEqualTo(96 + 32);
  }

  @Test
  void aBackendValidationErrorFailsWithTheNodesMessage() {
    startWorker(real);
    GenerationResult result = workflow("gen-invalid").run(request("invalid-graph", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("BACKEND_VALIDATION");
    assertThat(result.error().message()).contains("ImageScaleBy").contains("scale_by");
    assertThat(comfy.acceptedPromptCount()).isZero();
    assertThat(slots.inUse()).isZero();
  }

  @Test
  void outOfGpuMemoryIsTypedAndSuggestsALowerTier() {
    startWorker(real);
    GenerationResult result = workflow("gen-oom").run(request("oom", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.error().action()).isEqualTo("REDUCE_QUALITY");
    // standard ran out of memory, so did the draft it fell back to: two real runs, then the verdict
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("draft");
    assertThat(comfy.promptPostCount()).isEqualTo(2);
  }

  @Test
  void aRetriedAttemptReattachesToTheRunningPromptInsteadOfSubmittingAgain() throws Exception {
    startWorker(new CrashFirstRunAttempt(real, comfy));
    uploadSample();

    GenerationResult result = workflow("gen-crash").run(request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 20)));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    BufferedImage stored = ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
  }

  @Test
  void cancellingReachesTheBackendAsAnInterrupt() throws Exception {
    startWorker(real);
    uploadSample();
    bus.subscribe("gen-cancel", events::add);
    GenerationWorkflow workflow = workflow("gen-cancel");
    WorkflowClient.start(workflow::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 300)));
    long deadline = System.currentTimeMillis() + 15_000;
    while (events.stream().noneMatch(e -> e.step() != null) && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }
    assertThat(events).anySatisfy(e -> assertThat(e.step()).isNotNull());

    workflow.cancel("user pressed stop");
    GenerationResult result =
        workflows.newUntypedWorkflowStub("gen-cancel").getResult(30, TimeUnit.SECONDS, GenerationResult.class);

    assertThat(result.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(comfy.interruptCount()).isGreaterThanOrEqualTo(1);
    assertThat(slots.inUse()).isZero();
    // the backend really stopped: its history records the prompt as not completed
    String promptId = comfy.acceptedPromptIds().get(0);
    long until = System.currentTimeMillis() + 10_000;
    while (client.history(promptId).isEmpty() && System.currentTimeMillis() < until) {
      Thread.sleep(50);
    }
    assertThat(client.history(promptId)).hasValueSatisfying(r ->
        assertThat(r.status()).isEqualTo(io.tempera.backend.comfyui.PromptResult.Status.INTERRUPTED));
  }

  @Test
  void aRunThatGoesSilentIsStoppedOnTheBackendRunOnceMoreAndFailsAsStalled() throws Exception {
    startWorker(real);

    // each step takes 5 s, longer than the template's stall limit of 2 s: the backend goes silent.
    // ComfyUI's interrupt is cooperative (seen between steps), so each stopped run ends at its next step
    GenerationResult result = workflow("gen-wedged").run(request("wedged", Map.of("step_ms", 5_000)));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("STALLED");
    assertThat(result.error().message()).isEqualTo("The generator made no progress for 2 s; the run was stopped");
    assertThat(result.warnings()).contains("The generator made no progress for 2 s; the run was stopped; it was started again");
    List<String> prompts = comfy.acceptedPromptIds();
    assertThat(prompts).as("the stopped run and its one new run").hasSize(2).doesNotHaveDuplicates();
    for (String promptId : prompts) {
      long until = System.currentTimeMillis() + 10_000;
      while (client.history(promptId).isEmpty() && System.currentTimeMillis() < until) {
        Thread.sleep(50);
      }
      assertThat(client.history(promptId)).as("stopped on the backend: " + promptId).hasValueSatisfying(r ->
          assertThat(r.status()).isEqualTo(io.tempera.backend.comfyui.PromptResult.Status.INTERRUPTED));
    }
    assertThat(slots.inUse()).isZero();
  }

  @Test
  void aRunStuckInTheBackendsQueueIsTakenOutOfItAndFailsAsATimeout() throws Exception {
    startWorker(real);
    // another client's long prompt holds the backend's only executor
    ObjectMapper json = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode blocking = (com.fasterxml.jackson.databind.node.ObjectNode)
        json.readTree(Path.of("src/test/resources/templates/wedged/graph.json").toFile());
    ((com.fasterxml.jackson.databind.node.ObjectNode) blocking.get("2").get("inputs")).put("step_ms", 20_000);
    String blocker = java.util.UUID.randomUUID().toString();
    java.util.concurrent.CompletableFuture.runAsync(() -> client.run(blocking, blocker, "someone-else", u -> {}));
    long deadline = System.currentTimeMillis() + 10_000;
    while (comfy.executions().isEmpty() && System.currentTimeMillis() < deadline) {
      Thread.sleep(20);
    }

    // at draft the template waits 2 s in the backend's queue (its tier's own queue_wait_seconds)
    GenerationResult result = workflow("gen-queued").run(
        new GenerationRequest("wedged", "draft", Map.of("step_ms", 10), "project-1", "node-7", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("TIMEOUT");
    assertThat(result.error().message())
        .isEqualTo("The generator's own queue did not reach this generation within 2 s; it was taken out of that queue");
    String mine = comfy.acceptedPromptIds().stream().filter(id -> !id.equals(blocker)).findFirst().orElseThrow();
    long until = System.currentTimeMillis() + 10_000;
    while (client.queueStatus(mine).known() && System.currentTimeMillis() < until) {
      Thread.sleep(50);
    }
    assertThat(client.queueStatus(mine).known()).as("no longer in the backend's queue").isFalse();
    client.cancel(blocker);
    Thread.sleep(500);
    assertThat(comfy.executions()).extracting(ComfyUiTestServer.Execution::promptId).as("it never ran").containsExactly(blocker);
    assertThat(slots.inUse()).isZero();
  }

  /** The first runOnBackend attempt dies (like a worker crash) once its prompt is on the server. */
  static final class CrashFirstRunAttempt implements GenerationActivities {
    private final GenerationActivities delegate;
    private final ComfyUiTestServer server;
    private volatile boolean crashed;

    CrashFirstRunAttempt(GenerationActivities delegate, ComfyUiTestServer server) {
      this.delegate = delegate;
      this.server = server;
    }

    @Override
    public BackendOutcome runOnBackend(BackendJob job) {
      if (crashed) {
        return delegate.runOnBackend(job);
      }
      crashed = true;
      Thread activity = Thread.currentThread();
      Thread killer = Thread.ofPlatform().start(() -> {
        while (server.acceptedPromptCount() == 0) {
          Thread.onSpinWait();
        }
        try {
          Thread.sleep(300);
        } catch (InterruptedException e) {
          return;
        }
        activity.interrupt();
      });
      try {
        delegate.runOnBackend(job);
      } catch (RuntimeException e) {
        // the attempt died mid-run, as if its worker had crashed
      } finally {
        killer.interrupt();
        Thread.interrupted();
      }
      throw ApplicationFailure.newFailure("simulated worker crash mid-run", "SIMULATED_CRASH");
    }

    @Override public GenerationPlan resolveTemplate(GenerationRequest r) { return delegate.resolveTemplate(r); }
    @Override public SlotLease acquireSlot(SlotRequest r) { return delegate.acquireSlot(r); }
    @Override public GenerationPlan planAtTier(GenerationRequest r, GenerationPlan p, String t) { return delegate.planAtTier(r, p, t); }
    @Override public void cancelOnBackend(BackendJob j) { delegate.cancelOnBackend(j); }
    @Override public List<OutputRef> collectOutputs(CollectRequest r) { return delegate.collectOutputs(r); }
    @Override public void releaseSlot(SlotLease l) { delegate.releaseSlot(l); }
    @Override public io.tempera.slots.LeaseAnswer requestLease(SlotRequest r, GenerationPlan p) { return delegate.requestLease(r, p); }
    @Override public ModelEndpoint startModel(ModelStart s) { return delegate.startModel(s); }
    @Override public void releaseModel(ModelStart s) { delegate.releaseModel(s); }
    @Override public GenerationPlan planOnModel(GenerationRequest r, GenerationPlan p, String m) { return delegate.planOnModel(r, p, m); }
  }
}
