package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.activities.TestHost;
import io.tempera.backend.BackendRegistry;
import io.tempera.generation.BackendJob;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import io.tempera.testkit.gradio.GradioApp;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import io.temporal.failure.ApplicationFailure;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Gradio backend against a real Gradio running testkit/gradio/tempera_app.py, through the
 * generation workflow on Temporal's test server; and the same app behind a login. The cases run on
 * every Gradio major version scripts/ensure-gradio.sh installs: one subclass per version ({@link
 * GenerationOnGradio4Test}, {@link GenerationOnGradio5Test}, {@link GenerationOnGradio6Test})
 * starts the apps on it.
 */
abstract class GenerationOnGradioTest {

  static int major;
  static GradioApp app;
  static GradioApp secured;
  static GradioClient client;

  @TempDir Path tmp;
  TestHost host;
  OutputStore outputs;
  InProcessProgressBus bus;
  final List<ProgressEvent> events = new CopyOnWriteArrayList<>();

  /** Starts tempera_app.py, and the same behind a login, on Gradio {@code version}.x. */
  static void startApps(int version) throws Exception {
    major = version;
    RealGradio.python(version);
    var securedStart =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          try {
            return RealGradio.app(version, true);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
    try {
      app = RealGradio.app(version, false);
    } finally {
      secured = securedStart.join();
    }
    client = new GradioClient(app.baseUrl(), GradioClientOptions.defaults());
  }

  /** "" on Gradio 4.x, "/gradio_api" from 5.x on. */
  static String apiPrefix() {
    return major == 4 ? "" : "/gradio_api";
  }

  @AfterAll
  static void stopApps() {
    if (client != null) {
      client.close();
    }
    if (app != null) {
      app.close();
    }
    if (secured != null) {
      secured.close();
    }
    client = null;
    app = null;
    secured = null;
  }

  @BeforeEach
  void setUp() throws Exception {
    Path templates = tmp.resolve("templates");
    TestFiles.copyTree(Path.of("src/test/resources/templates"), templates);
    ObjectMapper json = new ObjectMapper();
    TemplateRegistry registry = new TemplateRegistry(templates, json, 0);
    assertThat(registry.problems()).isEmpty();
    outputs = new OutputStore(tmp.resolve("outputs"));
    bus = new InProcessProgressBus();
    host =
        TestHost.builder(
                registry, new BackendRegistry(List.of(GradioBackend.single(client))), outputs, bus)
            .slots(4)
            .start();
  }

  @AfterEach
  void tearDown() {
    host.close();
  }

  /** Runs generation {@code id} to its end, however it ended. */
  GenerationResult run(String id, String function, String tier, Map<String, Object> parameters) {
    bus.subscribe(id, events::add);
    return host.run(
        id, new GenerationRequest(function, tier, parameters, "project-1", "node-1", null));
  }

  GenerationWorkflow workflow(String id) {
    return host.workflow(id);
  }

  static int colour(String prompt) throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-256").digest(prompt.getBytes(StandardCharsets.UTF_8));
    return ((d[0] & 0xff) << 16) | ((d[1] & 0xff) << 8) | (d[2] & 0xff);
  }

  @Test
  void discoversTheServerItsPrefixAndItsNamedEndpoints() {
    GradioApi api = client.discover();
    assertThat(api.version()).startsWith(major + ".");
    assertThat(api.apiPrefix()).isEqualTo(apiPrefix());
    assertThat(api.queueProtocol()).isTrue();
    GradioApi.Endpoint generate = api.endpoints().get("/generate");
    assertThat(generate.parameters())
        .extracting(GradioApi.Parameter::name)
        .containsExactly("prompt", "steps", "size");
    assertThat(generate.parameters().get(1).hasDefault()).isTrue();
    assertThat(api.endpoints().get("/invert").parameters().get(0).takesFile()).isTrue();
    assertThat(api.endpoints().get("/stream").generator()).isTrue();
  }

  @Test
  void paintsThroughTheQueueWithTheTiersStepsAsGrProgress() throws Exception {
    GenerationResult result =
        run("gen-paint", "gradio-paint", "high", Map.of("prompt", "a red fox", "size", 24));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    OutputRef output = result.outputs().get(0);
    assertThat(output.contentType()).isEqualTo("image/png");
    assertThat(output.width()).isEqualTo(24);
    BufferedImage image = ImageIO.read(outputs.resolve(output.path()).toFile());
    assertThat(image.getRGB(3, 3) & 0xffffff).isEqualTo(colour("a red fox"));
    // the high tier's 8 steps reached gr.Progress, and its updates reached the generation's
    // progress
    assertThat(events)
        .anySatisfy(e -> {
          assertThat(e.totalSteps()).isEqualTo(8);
          assertThat(e.message()).startsWith("Painting: step ");
        });
    assertThat(events).anySatisfy(e -> assertThat(e.queuePosition()).isEqualTo(1));
    assertThat(events).extracting(ProgressEvent::seq).isSorted();
  }

  @Test
  void invertsAnUploadedImageSentAsFileDataByPosition() throws Exception {
    TestImages.writePng(
        TestImages.sample(), outputs.projectDir("project-1").resolve("uploads/sample.png"));

    GenerationResult result =
        run("gen-invert", "gradio-invert", "standard", Map.of("picture", "uploads/sample.png"));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    OutputRef output = result.outputs().get(0);
    assertThat(output.contentType()).isEqualTo("image/png");
    assertThat(output.sizeBytes()).isEqualTo(Files.size(outputs.resolve(output.path())));
    BufferedImage stored = ImageIO.read(outputs.resolve(output.path()).toFile());
    assertThat(TestImages.isInverted(TestImages.sample(), stored)).isTrue();
  }

  @Test
  void aGeneratorsIntermediateOutputsArriveAsProgressAndPreviews() throws Exception {
    GenerationResult result =
        run("gen-stream", "gradio-stream", "draft", Map.of("prompt", "dawn", "count", 6));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(events)
        .anySatisfy(e -> assertThat(e.message()).isEqualTo("Generating (intermediate result)"));
    assertThat(events)
        .anySatisfy(
            e -> assertThat(e.previewUrl()).isEqualTo("/api/generations/gen-stream/preview"));
    assertThat(ImageIO.read(outputs.previewFile("project-1", "gen-stream").toFile()).getWidth())
        .isEqualTo(16);
    BufferedImage last = ImageIO.read(outputs.resolve(result.outputs().get(0).path()).toFile());
    assertThat(last.getRGB(0, 0) & 0xffffff).isEqualTo(colour("dawn"));
  }

  @Test
  void aGrErrorFailsTheGenerationWithTheAppsMessage() {
    GenerationResult result = run("gen-fail", "gradio-fail", "standard", Map.of("prompt", "a dog"));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo(ErrorCode.EXECUTION_ERROR.name());
    assertThat(result.error().message()).contains("The model refused the prompt: a dog");
  }

  @Test
  void anOrdinaryExceptionFailsWithoutLeakingWhatTheAppHid() {
    GenerationResult result = run("gen-crash", "gradio-crash", "standard", Map.of());

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(result.error().code()).isEqualTo(ErrorCode.EXECUTION_ERROR.name());
    assertThat(result.error().message())
        .contains("did not show its message")
        .doesNotContain("secret");
  }

  @Test
  void cancellingTheGenerationCancelsTheJobOnTheServer() throws Exception {
    String before = slowStats();
    bus.subscribe("gen-slow", events::add);
    GenerationWorkflow workflow = workflow("gen-slow");
    WorkflowClient.start(
        workflow::run,
        new GenerationRequest(
            "gradio-slow", "standard", Map.of("seconds", 120), "project-1", "node-1", null));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> events.stream().anyMatch(e -> e.step() != null));
    assertThat(events).anySatisfy(e -> assertThat(e.message()).startsWith("Sleeping: step"));

    WorkflowStub.fromTyped(workflow).cancel("the user changed their mind");
    GenerationResult result = host.endOf("gen-slow");

    assertThat(result.status()).isEqualTo(GenerationStatus.CANCELLED);
    int cancelledBefore = count(before, "cancelled");
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(() ->
            assertThat(count(slowStats(), "cancelled"))
                .as("the app saw its job cancelled")
                .isEqualTo(cancelledBefore + 1));
    assertThat(count(slowStats(), "finished")).isEqualTo(count(before, "finished"));
  }

  @Test
  void cancelOnBackendReachesTheCancelEndpointOfTheRunningPrediction() throws Exception {
    GradioBackend backend = GradioBackend.single(client);
    String before = slowStats();
    BackendJob job = job("/slow", Map.of("seconds", 120));
    var outcome =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> backend.run(job, tmp, p -> {}));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> count(slowStats(), "started") > count(before, "started"));
    backend.cancel(job);
    var result = outcome.get(30, TimeUnit.SECONDS);
    assertThat(result.interrupted()).as("a cancelled job completes with output {}").isTrue();
    assertThat(result.files()).isEmpty();
    assertThat(count(slowStats(), "cancelled")).isEqualTo(count(before, "cancelled") + 1);
  }

  @Test
  void theTwoStepCallProtocolDeliversTheOutputFile(@TempDir Path files) {
    GradioApi.Endpoint queued = client.api().endpoints().get("/generate");
    GradioApi.Endpoint viaCall =
        new GradioApi.Endpoint(
            queued.apiName(),
            queued.fnIndex(),
            queued.parameters(),
            queued.inputs(),
            false,
            queued.generator());
    GradioResult result =
        client.predict(
            viaCall,
            new ObjectMapper().createArrayNode().add("called").add(1).add(12),
            "unused",
            p -> {},
            id -> {});
    assertThat(result.files())
        .singleElement()
        .satisfies(f -> {
          if (major > 4) {
            // Gradio 4.x's /call sends file urls cut at the wrong length
            // (testkit/gradio/VERSIONS.md)
            assertThat(f.url()).contains(app.baseUrl() + apiPrefix() + "/file=");
          }
          assertThat(client.download(f, files.resolve("called.png"))).isPositive();
        });
  }

  @Test
  void aGrErrorThroughTheTwoStepCallIsAnExecutionFailure() {
    GradioApi.Endpoint fail = client.api().endpoints().get("/fail");
    GradioApi.Endpoint failViaCall =
        new GradioApi.Endpoint(
            fail.apiName(), fail.fnIndex(), fail.parameters(), fail.inputs(), false, false);
    assertThatThrownBy(() ->
            client.predict(
                failViaCall,
                new ObjectMapper().createArrayNode().add("x"),
                "unused",
                p -> {},
                id -> {}))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.EXECUTION));
  }

  @Test
  void aMissingRequiredInputOrAnUnknownOneIsAMisconfiguredFunctionNamingIt() {
    GradioBackend backend = GradioBackend.single(client);
    assertThatThrownBy(() -> backend.run(job("/generate", Map.of("steps", 2)), tmp, p -> {}))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(ErrorCode.BACKEND_MISCONFIGURED.name());
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage()).startsWith("This function is unavailable");
              assertThat(detail(f)).contains("needs 'prompt'");
            });
    assertThatThrownBy(() ->
            backend.run(job("/generate", Map.of("prompt", "x", "colour", "red")), tmp, p -> {}))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(ErrorCode.BACKEND_MISCONFIGURED.name());
              assertThat(detail(f)).contains("[colour]").contains("prompt, steps, size");
            });
    assertThatThrownBy(() -> backend.run(job("/nope", Map.of()), tmp, p -> {}))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo(ErrorCode.BACKEND_MISCONFIGURED.name());
              assertThat(detail(f)).contains("no endpoint '/nope'").contains("/generate");
            });
  }

  /** What a misconfigured function's failure tells operators (its first detail). */
  private static String detail(ApplicationFailure failure) {
    return failure.getDetails().get(0, String.class);
  }

  @Test
  void anAppBehindALoginIsUsedWithTheConfiguredCredentials() {
    try (GradioClient anonymous =
            new GradioClient(secured.baseUrl(), GradioClientOptions.defaults());
        GradioClient wrong =
            new GradioClient(
                secured.baseUrl(),
                GradioClientOptions.defaults().withCredentials(RealGradio.USER, "nope"));
        GradioClient right =
            new GradioClient(
                secured.baseUrl(),
                GradioClientOptions.defaults()
                    .withCredentials(RealGradio.USER, RealGradio.PASSWORD))) {
      assertThatThrownBy(anonymous::discover)
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.AUTH);
                assertThat(e.getMessage()).contains("needs a login").contains("gradio-username");
              });
      assertThatThrownBy(wrong::discover)
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.AUTH);
                assertThat(e.getMessage()).contains("Incorrect credentials").doesNotContain("nope");
              });
      // a refused login is an operator's error: the person reads "unavailable", never the config
      assertThatThrownBy(() ->
              GradioBackend.single(wrong)
                  .run(job("/generate", Map.of("prompt", "locked", "steps", 1)), tmp, p -> {}))
          .isInstanceOfSatisfying(
              ApplicationFailure.class,
              f -> {
                assertThat(f.getType()).isEqualTo(ErrorCode.BACKEND_MISCONFIGURED.name());
                assertThat(f.isNonRetryable()).isTrue();
                assertThat(f.getOriginalMessage())
                    .isEqualTo(
                        "This function is unavailable right now: its Gradio app refused the"
                            + " worker's login.");
                assertThat(detail(f)).contains("Incorrect credentials").doesNotContain("nope");
              });
      GradioBackend backend = GradioBackend.single(right);
      var outcome =
          backend.run(job("/generate", Map.of("prompt", "locked", "steps", 1)), tmp, p -> {});
      assertThat(outcome.files()).hasSize(1);
      long bytes = backend.download(outcome.files().get(0), tmp.resolve("locked.png"));
      assertThat(bytes).isPositive();
    }
  }

  private BackendJob job(String api, Map<String, Object> inputs) {
    ObjectNode payload = new ObjectMapper().createObjectNode().put("api_name", api);
    payload.set("inputs", new ObjectMapper().valueToTree(inputs));
    GradioPlans plan = new GradioPlans(payload);
    return new BackendJob(
        "gen-direct",
        "project-1",
        "node-1",
        java.util.UUID.randomUUID().toString(),
        plan.plan(),
        null);
  }

  private record GradioPlans(ObjectNode payload) {
    GenerationPlan plan() {
      return new GenerationPlan(
          "direct",
          "1.0.0",
          "standard",
          "standard",
          GradioBackend.TYPE,
          payload,
          List.of(),
          120,
          List.of(),
          Map.of(),
          null,
          null,
          null,
          0);
    }
  }

  private String slowStats() {
    GradioApi.Endpoint stats = client.api().endpoints().get("/slow_stats");
    GradioResult result =
        client.predict(
            stats,
            new ObjectMapper().createArrayNode(),
            "stats" + System.nanoTime(),
            p -> {},
            id -> {});
    return result.data().get(0).asText();
  }

  private static int count(String stats, String key) {
    for (String part : stats.split(" ", -1)) {
      if (part.startsWith(key + "=")) {
        return Integer.parseInt(part.substring(key.length() + 1));
      }
    }
    throw new AssertionError("no " + key + " in " + stats);
  }
}
