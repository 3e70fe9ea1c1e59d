package io.tempera.activities;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.comfyui.PromptResult;
import io.tempera.backend.script.ScriptBackend;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.Fallback;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generation workflow with the real activities against the protocol-faithful testkit ComfyUI
 * server, on Temporal's in-process test server ({@link TestHost}: two slots, leased from the pool's
 * allocator).
 */
class GenerationOnComfyUiTest {

  @TempDir Path tmp;
  private ComfyUiTestServer comfy;
  private ComfyUiClient client;
  private TemplateRegistry registry;
  private BackendRegistry backends;
  private TestHost host;
  private OutputStore outputs;
  private InProcessProgressBus bus;
  private final List<ProgressEvent> events = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws IOException {
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfyui")));
    client = new ComfyUiClient(comfy.baseUrl(), ComfyUiClientOptions.defaults());
    Path templates = tmp.resolve("templates");
    TestFiles.copyShippedTemplates(templates);
    TestFiles.copyTree(Path.of("src/test/resources/templates"), templates.resolve("test"));
    ObjectMapper json = new ObjectMapper();
    registry = new TemplateRegistry(templates, json, 0);
    assertThat(registry.problems()).isEmpty();
    outputs = new OutputStore(tmp.resolve("outputs"));
    bus = new InProcessProgressBus();
    backends =
        new BackendRegistry(
            List.of(ComfyUiBackend.single(client), new ScriptBackend(tmp.resolve("script-runs"))));
  }

  /** A host with the real activities. */
  private void startHost() {
    startHost(UnaryOperator.identity());
  }

  /** A host whose backend runs go through {@code runs} (around the real ones). */
  private void startHost(UnaryOperator<BackendActivities> runs) {
    host = TestHost.builder(registry, backends, outputs, bus).slots(2).runs(runs).start();
  }

  @AfterEach
  void tearDown() {
    if (host != null) {
      host.close();
    }
    client.close();
    comfy.close();
  }

  private GenerationWorkflow workflow(String id) {
    return host.workflow(id);
  }

  /** Runs generation {@code id} to its end, however it ended. */
  private GenerationResult run(String id, GenerationRequest request) {
    return host.run(id, request);
  }

  private void awaitAStep() {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> events.stream().anyMatch(e -> e.step() != null));
  }

  /**
   * The allocator got every lease back (its release is a signal: it may land just after the end).
   */
  private void awaitNoSlotInUse() {
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> assertThat(host.allocatorState().leases()).isEmpty());
  }

  /** Waits until the backend's history has the prompt, then asserts it did not complete. */
  private void assertInterruptedOnTheBackend(String promptId) {
    await().atMost(Duration.ofSeconds(30)).until(() -> client.history(promptId).isPresent());
    assertThat(client.history(promptId))
        .as("stopped on the backend: " + promptId)
        .hasValueSatisfying(r -> assertThat(r.status()).isEqualTo(PromptResult.Status.INTERRUPTED));
  }

  private GenerationRequest request(String function, Map<String, Object> parameters) {
    return new GenerationRequest(function, "standard", parameters, "project-1", "node-7", null);
  }

  private void uploadSample() throws IOException {
    TestImages.writePng(
        TestImages.sample(), outputs.projectDir("project-1").resolve("uploads/sample.png"));
  }

  @Test
  void invertsARealImageEndToEnd() throws Exception {
    startHost();
    uploadSample();
    bus.subscribe("gen-invert", events::add);

    GenerationResult result =
        run("gen-invert", request("invert", Map.of("image", "uploads/sample.png")));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    OutputRef output = result.outputs().get(0);
    assertThat(output.path()).startsWith("project-1/outputs/renders/node-7/");
    assertThat(output.contentType()).isEqualTo("image/png");
    assertThat(output.width()).isEqualTo(4);
    BufferedImage stored = ImageIO.read(outputs.resolve(output.path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    awaitNoSlotInUse();
    assertThat(events)
        .extracting(ProgressEvent::phase)
        .contains("RESOLVING", "GENERATING", "COLLECTING_OUTPUTS");
    assertThat(events).extracting(ProgressEvent::seq).isSorted();
  }

  @Test
  void aSlowGenerationReportsStepsAnEtaAndLivePreviews() throws Exception {
    startHost();
    uploadSample();
    bus.subscribe("gen-live", events::add);

    GenerationResult result =
        run("gen-live", request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 12)));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(events)
        .anySatisfy(e -> {
          assertThat(e.step()).isNotNull();
          assertThat(e.totalSteps()).isEqualTo(12);
          // the template's own words for the phase, with the backend's step count
          assertThat(e.message()).matches("Slowly inverting your image \\(step \\d+ of 12\\)");
        });
    assertThat(events).anySatisfy(e -> assertThat(e.etaSeconds()).isNotNull().isPositive());
    assertThat(events)
        .anySatisfy(e -> assertThat(e.previewUrl()).isEqualTo("/api/generations/gen-live/preview"));
    // while the stepping node runs, every event keeps the step count: its previews too
    List<ProgressEvent> generating =
        events.stream().filter(e -> e.phase().equals("GENERATING")).toList();
    int first = 0;
    int last = generating.size() - 1;
    while (first < generating.size() && generating.get(first).step() == null) {
      first++;
    }
    while (last >= 0 && generating.get(last).step() == null) {
      last--;
    }
    assertThat(generating.subList(first, last + 1))
        .hasSizeGreaterThan(12)
        .allSatisfy(e -> assertThat(e.step()).as(e.message()).isNotNull());
    Path preview = outputs.previewFile("project-1", "gen-live");
    assertThat(OutputStore.contentType(preview)).isEqualTo("image/png");
    assertThat(ImageIO.read(preview.toFile()).getWidth()).isEqualTo(4);
  }

  @Test
  void aScriptFunctionRunsThroughTheSameWorkflow() throws Exception {
    startHost();
    bus.subscribe("gen-script", events::add);
    GenerationResult result =
        run(
            "gen-script",
            new GenerationRequest(
                "gradient",
                "draft",
                Map.of("top", 0xff0000, "bottom", 0x0000ff),
                "project-1",
                "node-9",
                null));

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
    startHost();
    uploadSample();
    bus.subscribe("gen-restart", events::add);
    GenerationWorkflow workflow = workflow("gen-restart");
    WorkflowClient.start(
        workflow::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 40)));
    awaitAStep();
    int port = comfy.port();
    comfy.close(); // the backend dies mid-run and comes back empty, as a restarted ComfyUI does
    comfy =
        ComfyUiTestServer.start(
            new ComfyUiTestServer.Config(port, tmp.resolve("comfyui"), "127.0.0.1"));

    GenerationResult result = host.endOf("gen-restart");

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.promptPostCount())
        .as("the restarted backend had lost the run: it was submitted again")
        .isEqualTo(1);
    BufferedImage stored = ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
  }

  @Test
  void anEditedTemplateChangesNewGenerationsButNotOneAlreadyRunning() throws Exception {
    startHost();
    uploadSample();
    bus.subscribe("gen-before-edit", events::add);
    GenerationWorkflow running = workflow("gen-before-edit");
    WorkflowClient.start(
        running::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 25)));
    awaitAStep();

    // the author edits the function while it runs: a new output prefix and a new version
    Path template = tmp.resolve("templates/test/slow-invert/template.json");
    Path graph = tmp.resolve("templates/test/slow-invert/graph.json");
    Files.writeString(
        graph,
        Files.readString(graph)
            .replace("\"filename_prefix\": \"slow\"", "\"filename_prefix\": \"edited\""));
    Files.writeString(
        template,
        Files.readString(template).replace("\"version\": \"1.0.0\"", "\"version\": \"1.1.0\""));

    GenerationResult before = host.endOf("gen-before-edit");
    GenerationResult after =
        run(
            "gen-after-edit",
            request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 2)));

    assertThat(before.functionVersion()).isEqualTo("1.0.0");
    assertThat(before.outputs().get(0).name()).contains("_slow_");
    assertThat(after.functionVersion()).isEqualTo("1.1.0");
    assertThat(after.outputs().get(0).name()).contains("_edited_");
  }

  @Test
  void outputsProducedBeforeAFailureAreKeptAndReported() {
    startHost();
    GenerationResult result = run("gen-partial", request("partial", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(result.error().message())
        .isEqualTo("The generator failed at node 4 (TemperaFault)")
        .as("the server's words are for operators only")
        .doesNotContain("the decoder exploded");
    assertThat(result.outputs())
        .singleElement()
        .satisfies(o -> {
          assertThat(o.name()).contains("partial_ok");
          assertThat(outputs.resolve(o.path())).exists();
        });
    assertThat(result.warnings()).contains("Kept 1 output(s) produced before the failure");
  }

  /** A node's exception text the way a real server sends it: a server path and a traceback. */
  private static final String LEAKY_EXCEPTION =
      "[Errno 2] No such file or directory: '/home/comfy/ComfyUI/models/x.safetensors'\n"
          + "Traceback (most recent call last):\n"
          + "  File \"/home/comfy/ComfyUI/execution.py\", line 496, in execute\n"
          + "    output_data, output_ui, has_subgraph = get_output_data(...)";

  @Test
  void aNodesExceptionTextReachesOperatorsOnlyThePersonReadsTheMappedSentence() throws Exception {
    Path leaky = tmp.resolve("templates/test/leaky-fault");
    Files.createDirectories(leaky);
    Files.writeString(
        leaky.resolve("template.json"),
        """
        {"id": "leaky-fault", "version": "1.0.0", "display_name": "Leaky fault (test)",
         "category": "test", "description": "Fails with a server path and a traceback.",
         "backend": {"type": "comfyui", "graph": "graph.json"}, "parameters": {},
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
        """);
    ObjectMapper json = new ObjectMapper();
    var graph = json.createObjectNode();
    graph
        .putObject("1")
        .put("class_type", "EmptyImage")
        .putObject("inputs")
        .put("width", 8)
        .put("height", 8)
        .put("batch_size", 1)
        .put("color", 0);
    var fault = graph.putObject("7").put("class_type", "TemperaFault").putObject("inputs");
    fault.putArray("image").add("1").add(0);
    fault.put("exception_type", "FileNotFoundError").put("exception_message", LEAKY_EXCEPTION);
    var save = graph.putObject("9").put("class_type", "SaveImage").putObject("inputs");
    save.putArray("images").add("7").add(0);
    save.put("filename_prefix", "never");
    Files.writeString(leaky.resolve("graph.json"), graph.toString());
    registry = new TemplateRegistry(tmp.resolve("templates"), json, 0);
    assertThat(registry.problems()).isEmpty();
    startHost();

    GenerationResult result = run("gen-leaky", request("leaky-fault", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(result.error().message())
        .isEqualTo("The generator is missing a model or file that node 7 (TemperaFault) needs");
    for (String told : List.of(result.error().message(), result.error().suggestion())) {
      assertThat(told)
          .doesNotContain("/home/comfy")
          .doesNotContain("safetensors")
          .doesNotContain("Traceback")
          .doesNotContain("Errno")
          .doesNotContain("FileNotFoundError");
    }
    // operators find the server's words, whole, in the run's failure (the Temporal UI shows it)
    io.temporal.common.converter.DataConverter converter =
        io.temporal.common.converter.GlobalDataConverter.get();
    List<String> operatorTexts =
        host.client.fetchHistory("gen-leaky").getEvents().stream()
            .filter(e -> e.hasActivityTaskFailedEventAttributes())
            .map(e -> e.getActivityTaskFailedEventAttributes().getFailure())
            .filter(f -> f.getApplicationFailureInfo().getType().equals("EXECUTION_ERROR"))
            .map(f -> f.getApplicationFailureInfo().getDetails())
            .map(d ->
                converter.fromPayload(
                    d.getPayloads(d.getPayloadsCount() - 1), String.class, String.class))
            .toList();
    assertThat(operatorTexts)
        .singleElement()
        .satisfies(raw ->
            assertThat(raw)
                .contains("FileNotFoundError")
                .contains(LEAKY_EXCEPTION)
                .contains("/home/comfy/ComfyUI/models/x.safetensors")
                .contains("Traceback (most recent call last)"));
  }

  @Test
  void theTierChangesWhatTheBackendProduces() throws Exception {
    startHost();
    uploadSample();
    GenerationResult draft =
        run(
            "gen-draft",
            new GenerationRequest(
                "generate-pattern", "draft", Map.of(), "project-1", "node-1", null));
    GenerationResult high =
        run(
            "gen-high",
            new GenerationRequest(
                "generate-pattern", "high", Map.of(), "project-1", "node-1", null));
    // ImagePadForOutpaint adds the 32px border on each side
    assertThat(draft.outputs().get(0).width()).isEqualTo(256 + 64);
    assertThat(high.outputs().get(0).width()).isEqualTo(768 + 64);

    // computed sizes: the tier's base width times the scale parameter, plus the tier's frame
    GenerationResult framed =
        run(
            "gen-framed",
            new GenerationRequest(
                "framed-color",
                "standard",
                Map.of("mood", "warm", "scale", 0.5, "soft", true),
                "project-1",
                "node-1",
                null));
    assertThat(framed.outputs().get(0).width()).isEqualTo(128 + 32);
    assertThat(framed.outputs().get(0).height()).isEqualTo(96 + 32);
  }

  @Test
  void aBackendValidationErrorFailsWithTheNodesMessage() {
    startHost();
    GenerationResult result = run("gen-invalid", request("invalid-graph", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("BACKEND_VALIDATION");
    assertThat(result.error().message()).contains("ImageScaleBy").contains("scale_by");
    assertThat(comfy.acceptedPromptCount()).isZero();
    awaitNoSlotInUse();
  }

  @Test
  void outOfGpuMemoryIsTypedAndSuggestsALowerTier() {
    startHost();
    GenerationResult result = run("gen-oom", request("oom", Map.of()));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(result.error().action()).isEqualTo("REDUCE_QUALITY");
    // standard ran out of memory, so did the draft it fell back to: two real runs, then the verdict
    assertThat(result.fallbacks()).extracting(Fallback::toTier).containsExactly("draft");
    assertThat(comfy.promptPostCount()).isEqualTo(2);
  }

  @Test
  void aRetriedAttemptReattachesToTheRunningPromptInsteadOfSubmittingAgain() throws Exception {
    startHost(real -> new CrashFirstRunAttempt(real, comfy));
    uploadSample();

    GenerationResult result =
        run(
            "gen-crash",
            request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 20)));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    BufferedImage stored = ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
  }

  @Test
  void cancellingReachesTheBackendAsAnInterrupt() throws Exception {
    startHost();
    uploadSample();
    bus.subscribe("gen-cancel", events::add);
    GenerationWorkflow workflow = workflow("gen-cancel");
    WorkflowClient.start(
        workflow::run, request("slow-invert", Map.of("image", "uploads/sample.png", "steps", 300)));
    awaitAStep();
    assertThat(events).anySatisfy(e -> assertThat(e.step()).isNotNull());

    WorkflowStub.fromTyped(workflow).cancel("user pressed stop");
    GenerationResult result = host.endOf("gen-cancel");

    assertThat(result.status()).isEqualTo(GenerationStatus.CANCELLED);
    assertThat(comfy.interruptCount()).isGreaterThanOrEqualTo(1);
    awaitNoSlotInUse();
    // the backend really stopped: its history records the prompt as not completed
    assertInterruptedOnTheBackend(comfy.acceptedPromptIds().get(0));
  }

  @Test
  void aRunThatGoesSilentIsStoppedOnTheBackendRunOnceMoreAndFailsAsStalled() throws Exception {
    startHost();

    // each step takes 5 s, longer than the template's stall limit of 2 s: the backend goes silent.
    // ComfyUI's interrupt is cooperative (seen between steps), so each stopped run ends at its next
    // step
    GenerationResult result = run("gen-wedged", request("wedged", Map.of("step_ms", 5_000)));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("STALLED");
    assertThat(result.error().message())
        .isEqualTo("The generator made no progress for 2 s; the run was stopped");
    assertThat(result.warnings())
        .contains(
            "The generator made no progress for 2 s; the run was stopped; it was started again");
    List<String> prompts = comfy.acceptedPromptIds();
    assertThat(prompts)
        .as("the stopped run and its one new run")
        .hasSize(2)
        .doesNotHaveDuplicates();
    for (String promptId : prompts) {
      assertInterruptedOnTheBackend(promptId);
    }
    awaitNoSlotInUse();
  }

  @Test
  void aRunStuckInTheBackendsQueueIsTakenOutOfItAndFailsAsATimeout() throws Exception {
    startHost();
    // another client's long prompt holds the backend's only executor
    ObjectMapper json = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode blocking =
        (com.fasterxml.jackson.databind.node.ObjectNode)
            json.readTree(Path.of("src/test/resources/templates/wedged/graph.json").toFile());
    ((com.fasterxml.jackson.databind.node.ObjectNode) blocking.get("2").get("inputs"))
        .put("step_ms", 20_000);
    String blocker = java.util.UUID.randomUUID().toString();
    // another client's prompt, left running (ComfyUI interrupts it when the test server closes)
    java.util.concurrent.CompletableFuture<Void> unused =
        java.util.concurrent.CompletableFuture.runAsync(
            () -> client.run(blocking, blocker, "someone-else", u -> {}));
    await().atMost(Duration.ofSeconds(30)).until(() -> !comfy.executions().isEmpty());

    // at draft the template waits 2 s in the backend's queue (its tier's own queue_wait_seconds)
    GenerationResult result =
        run(
            "gen-queued",
            new GenerationRequest(
                "wedged", "draft", Map.of("step_ms", 10), "project-1", "node-7", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo("TIMEOUT");
    assertThat(result.error().message())
        .isEqualTo(
            "The generator's own queue did not reach this generation within 2 s; it was taken out of that queue");
    String mine =
        comfy.acceptedPromptIds().stream()
            .filter(id -> !id.equals(blocker))
            .findFirst()
            .orElseThrow();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() ->
            assertThat(client.queueStatus(mine).known())
                .as("no longer in the backend's queue")
                .isFalse());
    client.cancel(blocker);
    // with the executor free again, it would run now if it were still queued: for half a second it
    // does not
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() ->
            assertThat(comfy.executions())
                .extracting(ComfyUiTestServer.Execution::promptId)
                .as("it never ran")
                .containsExactly(blocker));
    awaitNoSlotInUse();
  }

  /** The first runOnBackend attempt dies (like a worker crash) once its prompt is on the server. */
  static final class CrashFirstRunAttempt implements BackendActivities {
    private final BackendActivities delegate;
    private final ComfyUiTestServer server;
    private volatile boolean crashed;

    CrashFirstRunAttempt(BackendActivities delegate, ComfyUiTestServer server) {
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
      Thread killer =
          Thread.ofPlatform()
              .start(() -> {
                try {
                  await()
                      .atMost(Duration.ofSeconds(30))
                      .pollInterval(Duration.ofMillis(10))
                      .until(() -> server.acceptedPromptCount() > 0);
                  Thread.sleep(300); // the prompt is running when the attempt dies
                } catch (InterruptedException | RuntimeException e) {
                  return; // the attempt ended first (or never submitted): nothing to kill
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

    @Override
    public void cancelOnBackend(BackendJob job) {
      delegate.cancelOnBackend(job);
    }
  }
}
