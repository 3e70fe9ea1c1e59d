package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.TestHost;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.CircuitBreaker;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.OutputRef;
import io.tempera.generation.OutputValue;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.gradio.GradioApp;
import io.temporal.client.WorkflowClient;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradio apps as people build them (testkit/gradio/kinds_app.py: gr.Interface apps and a gr.Blocks
 * page), through the generation workflow, on a real Gradio of each major version: one subclass per
 * version ({@link GradioAppsOnGradio4Test}, {@link GradioAppsOnGradio5Test}, {@link
 * GradioAppsOnGradio6Test}). Every output kind becomes part of the result, streams feed progress,
 * an app killed and restarted mid-run still delivers, a pool with a dead app keeps serving, a
 * redeploy is noticed, and the errors say what they are.
 */
abstract class GradioAppsOnRealGradioTest {

  static int major;

  /** kinds_app.py, its queue warmed up (so Gradio estimates), and a second one for the pool. */
  static GradioApp app;

  static GradioApp second;

  @TempDir Path tmp;
  final List<TestHost> hosts = new ArrayList<>();
  final List<GradioClient> clients = new ArrayList<>();
  final Map<String, List<ProgressEvent>> events = new HashMap<>();
  InProcessProgressBus bus;

  static void startApps(int version) throws Exception {
    major = version;
    RealGradio.python(version);
    CompletableFuture<GradioApp> other =
        CompletableFuture.supplyAsync(() -> {
          try {
            return RealGradio.app(version, "kinds_app.py", Map.of());
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
    try {
      app = RealGradio.app(version, "kinds_app.py", Map.of("TEMPERA_QUEUE_WARMUP", "1"));
    } finally {
      second = other.join();
    }
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> app.logTail().contains("[tempera] queue warmed up"));
  }

  @AfterAll
  static void stopApps() {
    for (GradioApp a : new GradioApp[] {app, second}) {
      if (a != null) {
        a.close();
      }
    }
    app = null;
    second = null;
  }

  @AfterEach
  void tearDown() {
    hosts.forEach(TestHost::close);
    clients.forEach(GradioClient::close);
  }

  GradioEndpoint endpoint(URI url, Duration restartGrace) {
    GradioClient client =
        new GradioClient(url, GradioClientOptions.defaults().withRestartGrace(restartGrace));
    clients.add(client);
    return new GradioEndpoint(
        url.toString(), client, new CircuitBreaker(3, Duration.ofSeconds(30), Clock.systemUTC()));
  }

  /** A worker host whose Gradio backend is these apps. */
  TestHost host(List<GradioEndpoint> apps) throws Exception {
    Path templates = tmp.resolve("templates-" + hosts.size());
    TestFiles.copyTree(Path.of("src/test/resources/gradio-apps-templates"), templates);
    TemplateRegistry registry = new TemplateRegistry(templates, new ObjectMapper(), 0);
    assertThat(registry.problems()).isEmpty();
    bus = new InProcessProgressBus();
    TestHost host =
        TestHost.builder(
                registry,
                new BackendRegistry(List.of(new GradioBackend(apps))),
                new OutputStore(tmp.resolve("outputs")),
                bus)
            .slots(4)
            .start();
    hosts.add(host);
    return host;
  }

  TestHost host() throws Exception {
    return host(List.of(endpoint(app.baseUrl(), Duration.ofSeconds(90))));
  }

  static GenerationRequest request(String function, Map<String, Object> parameters) {
    return new GenerationRequest(function, "standard", parameters, "project-1", "node-1", null);
  }

  GenerationResult run(TestHost host, String id, String function, Map<String, Object> params) {
    List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
    events.put(id, seen);
    bus.subscribe(id, seen::add);
    return host.run(id, request(function, params));
  }

  static void succeeded(GenerationResult result) {
    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
  }

  static OutputValue value(GenerationResult result, String name) {
    return result.values().stream()
        .filter(v -> v.name().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no value " + name + " in " + result.values()));
  }

  @Test
  void textOnlyAndNumberOnlyEndpointsSucceedWithTheirValues() throws Exception {
    TestHost host = host();
    GenerationResult caption = run(host, "g-caption", "kinds-caption", Map.of("prompt", "fox"));
    succeeded(caption);
    assertThat(caption.outputs()).isEmpty();
    OutputValue text = value(caption, "caption");
    assertThat(text.kind()).isEqualTo("text");
    assertThat(text.value().asText()).startsWith("A picture of fox (#");

    GenerationResult count =
        run(host, "g-count", "kinds-count", Map.of("prompt", "a red fox jumps"));
    succeeded(count);
    assertThat(value(count, "words").kind()).isEqualTo("number");
    assertThat(value(count, "words").value().asInt()).isEqualTo(4);

    GenerationResult json = run(host, "g-describe", "kinds-describe", Map.of("prompt", "red fox"));
    succeeded(json);
    OutputValue description = value(json, "description");
    assertThat(description.kind()).isEqualTo("json");
    assertThat(description.value().path("colours").get(0).asText()).isEqualTo("red");
    assertThat(description.value().path("nested").path("empty").isNull()).isTrue();

    GenerationResult label = run(host, "g-classify", "kinds-classify", Map.of("prompt", "a cat"));
    succeeded(label);
    OutputValue animal = value(label, "animal");
    assertThat(animal.kind()).isEqualTo("label");
    assertThat(animal.value().path("label").asText()).isEqualTo("cat");
    assertThat(animal.value().path("confidences")).hasSize(3);

    GenerationResult marked =
        run(host, "g-highlight", "kinds-highlight", Map.of("prompt", "a red fox"));
    succeeded(marked);
    assertThat(value(marked, "colours").kind()).isEqualTo("highlighted_text");
    assertThat(value(marked, "colours").value().toString()).contains("colour");

    GenerationResult none =
        run(host, "g-maybe", "kinds-maybe", mapOf("prompt", "fox", "negative", null));
    succeeded(none);
    assertThat(value(none, "answer").value().asText()).isEqualTo("fox: negative was None");
  }

  static Map<String, Object> mapOf(String k1, Object v1, String k2, Object v2) {
    Map<String, Object> map = new HashMap<>();
    map.put(k1, v1);
    map.put(k2, v2);
    return map;
  }

  @Test
  void filesOfEveryKindAreStoredAndAGalleryComesWithItsCaption() throws Exception {
    TestHost host = host();
    GenerationResult gallery =
        run(host, "g-gallery", "kinds-gallery-caption", Map.of("prompt", "fox", "n", 3));
    succeeded(gallery);
    assertThat(gallery.outputs()).hasSize(3).allSatisfy(o -> assertThat(o.height()).isEqualTo(8));
    assertThat(gallery.outputs()).extracting(OutputRef::width).containsExactly(8, 12, 16);
    assertThat(value(gallery, "caption").value().asText()).isEqualTo("3 pictures of fox");

    GenerationResult files = run(host, "g-files", "kinds-files", Map.of("prompt", "fox"));
    succeeded(files);
    assertThat(files.outputs())
        .extracting(OutputRef::contentType)
        .containsExactlyInAnyOrder("text/plain", "image/png");

    GenerationResult webp = run(host, "g-webp", "kinds-webp", Map.of("prompt", "fox"));
    succeeded(webp);
    assertThat(webp.outputs())
        .singleElement()
        .satisfies(o -> {
          assertThat(o.contentType()).isEqualTo("image/webp");
          assertThat(o.width()).isEqualTo(40);
          assertThat(o.height()).isEqualTo(24);
        });

    GenerationResult audio = run(host, "g-audio", "kinds-audio", Map.of("prompt", "fox"));
    succeeded(audio);
    assertThat(audio.outputs())
        .singleElement()
        .satisfies(o -> assertThat(o.contentType()).startsWith("audio/"));
  }

  @Test
  void streamingEndpointsFeedPreviewsAndProgressAndTheirLastYieldIsTheResult() throws Exception {
    TestHost host = host();
    GenerationResult text =
        run(host, "g-stream-text", "kinds-stream-text", Map.of("prompt", "fox"));
    succeeded(text);
    assertThat(value(text, "streamed_text").value().asText()).isEqualTo("fox1 fox2 fox3 fox4 fox5");
    assertThat(events.get("g-stream-text"))
        .extracting(ProgressEvent::message)
        .filteredOn(Objects::nonNull)
        .anySatisfy(m -> assertThat(m).startsWith("Generating: fox1"));

    GenerationResult image =
        run(host, "g-stream-image", "kinds-stream-image", Map.of("prompt", "fox"));
    succeeded(image);
    assertThat(image.outputs())
        .singleElement()
        .satisfies(o -> assertThat(o.width()).as("the final yield").isEqualTo(32));
    assertThat(events.get("g-stream-image"))
        .anySatisfy(
            e -> assertThat(e.previewUrl()).isEqualTo("/api/generations/g-stream-image/preview"));
  }

  @Test
  void grErrorIsTheAppsWordsAndGrWarningAndInfoAreWarnings() throws Exception {
    TestHost host = host();
    GenerationResult refused = run(host, "g-refuse", "kinds-refuse", Map.of("prompt", "a dog"));
    assertThat(refused.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(refused.error().code()).isEqualTo("EXECUTION_ERROR");
    assertThat(refused.error().action()).isEqualTo("FIX_INPUT");
    assertThat(refused.error().message()).isEqualTo("The prompt is not allowed: a dog");

    GenerationResult warned = run(host, "g-warn", "kinds-warn", Map.of("prompt", "fox"));
    succeeded(warned);
    assertThat(warned.warnings()).contains("Careful with fox", "Working on fox");
    assertThat(value(warned, "answer").value().asText()).isEqualTo("warned about fox");

    GenerationResult nothing = run(host, "g-nothing", "kinds-nothing", Map.of("prompt", "fox"));
    assertThat(nothing.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(nothing.error().code()).isEqualTo("OUTPUT_NOT_PRODUCED");
    assertThat(nothing.error().retryable()).isFalse();
    assertThat(nothing.error().message()).contains("'answer'");
  }

  @Test
  void anAppKilledAndRestartedMidRunIsWaitedForAndTheRunEndsSucceeded() throws Exception {
    TestHost host = host();
    List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
    events.put("g-restart", seen);
    bus.subscribe("g-restart", seen::add);
    WorkflowClient.start(
        host.workflow("g-restart")::run, request("kinds-slow-text", Map.of("seconds", 4)));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> seen.stream().anyMatch(e -> e.step() != null && e.step() >= 2));
    app.kill();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() ->
            seen.stream()
                .anyMatch(e ->
                    "The generator is not answering; waiting for it to come back"
                        .equals(e.message())));
    app.startAgain(Map.of(), Duration.ofSeconds(180));
    GenerationResult result = host.endOf("g-restart");
    succeeded(result);
    assertThat(value(result, "answer").value().asText()).isEqualTo("slept 4 s");
    assertThat(result.warnings())
        .contains(
            "The generator restarted and dropped the run; it was submitted again (submission 2)");
  }

  @Test
  void threeAppsWithOneDeadKeepServing() throws Exception {
    URI dead;
    try (ServerSocket socket = new ServerSocket(0)) {
      dead = URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }
    GradioEndpoint deadApp = endpoint(dead, Duration.ofSeconds(90));
    TestHost host =
        host(
            List.of(
                deadApp,
                endpoint(app.baseUrl(), Duration.ofSeconds(90)),
                endpoint(second.baseUrl(), Duration.ofSeconds(90))));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 9; i++) { // runs take turns: the dead app comes first three times
      String id = "g-pool-" + i;
      ids.add(id);
      WorkflowClient.start(
          host.workflow(id)::run, request("kinds-caption", Map.of("prompt", "fox " + i)));
    }
    for (String id : ids) {
      succeeded(host.endOf(id));
    }
    assertThat(deadApp.breaker().state())
        .as("three failures in a row: it is skipped until it answers")
        .isEqualTo(CircuitBreaker.State.OPEN);
  }

  @Test
  void aRedeployWithAChangedSignatureIsNoticedOnTheFirstCall() throws Exception {
    TestHost host = host(List.of(endpoint(second.baseUrl(), Duration.ofSeconds(90))));
    succeeded(run(host, "g-before", "kinds-caption", Map.of("prompt", "fox")));
    try {
      second.startAgain(Map.of("TEMPERA_APP_REVISION", "2"), Duration.ofSeconds(180));
      GenerationResult after =
          run(host, "g-after", "kinds-caption-v2", Map.of("subject", "fox", "style", "poetic"));
      succeeded(after);
      assertThat(value(after, "caption").value().asText())
          .startsWith("Poetic caption: A picture of fox");
      GenerationResult old = run(host, "g-old", "kinds-caption", Map.of("prompt", "fox"));
      assertThat(old.status()).isEqualTo(GenerationStatus.FAILED);
      assertThat(old.error().code()).isEqualTo("BACKEND_MISCONFIGURED");
      assertThat(old.error().message()).startsWith("This function is unavailable right now:");
    } finally {
      second.startAgain(Map.of("TEMPERA_APP_REVISION", "1"), Duration.ofSeconds(180));
    }
  }

  @Test
  void theEtaComesFromGradiosEstimateAndNeverGoesUp() throws Exception {
    TestHost host = host();
    List<ProgressEvent> seen = new CopyOnWriteArrayList<>();
    bus.subscribe("g-waits", seen::add);
    // /slow_text runs one at a time: the second waits in Gradio's queue behind the first
    WorkflowClient.start(
        host.workflow("g-first")::run, request("kinds-slow-text", Map.of("seconds", 2)));
    await().atMost(Duration.ofSeconds(30)).until(() -> host.allocatorState() != null);
    Thread.sleep(300); // the first is in the app's queue first
    GenerationResult second =
        host.run("g-waits", request("kinds-slow-text", Map.of("seconds", 0.5)));
    succeeded(second);
    succeeded(host.endOf("g-first"));
    List<ProgressEvent> progress =
        seen.stream().filter(e -> ProgressEvent.PROGRESS.equals(e.type())).toList();
    assertThat(progress)
        .as("a fresh host knows no run of it: only Gradio's own estimate gives an ETA in the queue")
        .anySatisfy(e -> {
          assertThat(e.queuePosition()).isNotNull();
          assertThat(e.etaSeconds()).isNotNull();
          assertThat(e.message()).contains("done in about");
        });
    List<Integer> etas =
        progress.stream().map(ProgressEvent::etaSeconds).filter(Objects::nonNull).toList();
    for (int i = 1; i < etas.size(); i++) {
      assertThat(etas.get(i)).as("%s", etas).isLessThanOrEqualTo(etas.get(i - 1));
    }
  }
}
