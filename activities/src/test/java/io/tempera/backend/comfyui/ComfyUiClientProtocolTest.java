package io.tempera.backend.comfyui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestImages;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against the protocol-faithful testkit ComfyUI server. */
class ComfyUiClientProtocolTest {

  @TempDir Path tmp;
  ComfyUiTestServer comfy;
  ComfyUiClient client;
  final ObjectMapper json = new ObjectMapper();
  final List<ProgressUpdate> updates = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfy")));
    client = new ComfyUiClient(comfy.baseUrl(), ComfyUiClientOptions.defaults());
  }

  @AfterEach
  void tearDown() {
    client.close();
    comfy.close();
  }

  ObjectNode graph(String json) throws Exception {
    return (ObjectNode) this.json.readTree(json);
  }

  static String id() {
    return UUID.randomUUID().toString();
  }

  ObjectNode slowGraph(int steps, int stepMs) throws Exception {
    return graph(
        """
        {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":%d}},
         "2":{"class_type":"TemperaDelay","inputs":{"image":["1",0],"steps":%d,"step_ms":%d}},
         "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"slow"}}}\
        """
            .formatted(steps * 7 + stepMs, steps, stepMs));
  }

  @Test
  void runsAPromptFollowsItsProgressAndDownloadsTheRealOutput() throws Exception {
    ObjectNode graph =
        graph(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":6,"height":4,"batch_size":1,"color":1056816}},
             "2":{"class_type":"ImageInvert","inputs":{"image":["1",0]}},
             "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"inv"}}}\
            """);
    String promptId = id();
    PromptResult result = client.run(graph, promptId, "client-a", updates::add);

    assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(result.submitted()).isTrue();
    assertThat(result.outputs())
        .singleElement()
        .satisfies(o -> {
          assertThat(o.nodeId()).isEqualTo("3");
          assertThat(o.filename()).isEqualTo("inv_00001_.png");
        });
    assertThat(updates)
        .extracting(ProgressUpdate::stage)
        .contains(ProgressUpdate.Stage.STARTED, ProgressUpdate.Stage.NODE_STARTED);
    assertThat(updates).extracting(ProgressUpdate::fraction).isSorted();
    Path target = tmp.resolve("out/inv.png");
    long bytes = client.download(result.outputs().get(0), target);
    assertThat(bytes).isEqualTo(java.nio.file.Files.size(target));
    BufferedImage image = ImageIO.read(target.toFile());
    assertThat(image.getWidth()).isEqualTo(6);
    assertThat(image.getRGB(0, 0) & 0xffffff).isEqualTo(0xffffff - 1056816);
    assertThat(client.history(promptId)).isPresent();
  }

  @Test
  void aDroppedWebSocketIsReconnectedAndThePromptStillCompletesOnce() throws Exception {
    String promptId = id();
    ObjectNode graph = slowGraph(30, 40);
    CompletableFuture<PromptResult> run =
        CompletableFuture.supplyAsync(
            () -> client.run(graph, promptId, "client-drop", updates::add));
    await("a step")
        .atMost(Duration.ofSeconds(10))
        .until(() -> updates.stream().anyMatch(u -> u.stage() == ProgressUpdate.Stage.STEP));
    comfy.dropWebSockets();

    PromptResult result = run.get(30, TimeUnit.SECONDS);
    assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(comfy.promptPostCount()).isEqualTo(1);
  }

  @Test
  void aRunWithTheSameIdReattachesInsteadOfSubmittingTwice() throws Exception {
    String promptId = id();
    ObjectNode graph = slowGraph(10, 30);
    CompletableFuture<PromptResult> first =
        CompletableFuture.supplyAsync(() -> client.run(graph, promptId, "client-x", u -> {}));
    await("the first run's prompt")
        .atMost(Duration.ofSeconds(30))
        .until(() -> comfy.acceptedPromptCount() > 0);
    PromptResult second = client.run(graph, promptId, "client-x", updates::add);
    assertThat(second.submitted()).isFalse();
    assertThat(second.status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(first.get(10, TimeUnit.SECONDS).status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(comfy.promptPostCount()).isEqualTo(1);
    // and once finished, a third run just reads the history
    assertThat(client.run(graph, promptId, "client-x", u -> {}).submitted()).isFalse();
    assertThat(comfy.promptPostCount()).isEqualTo(1);
  }

  @Test
  void anOutOfMemoryExecutionErrorIsRecognised() throws Exception {
    PromptResult result =
        client.run(
            graph(
                """
                {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":0}},
                 "2":{"class_type":"TemperaFault","inputs":{"image":["1",0],"exception_type":"torch.OutOfMemoryError","exception_message":"Allocation on device"}},
                 "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"x"}}}\
                """),
            id(),
            "client-oom",
            u -> {});
    assertThat(result.status()).isEqualTo(PromptResult.Status.ERROR);
    assertThat(result.error().nodeId()).isEqualTo("2");
    assertThat(result.error().nodeType()).isEqualTo("TemperaFault");
    assertThat(result.error().outOfMemory()).isTrue();
  }

  @Test
  void aRuntimeErrorIsNotOutOfMemory() throws Exception {
    PromptResult result =
        client.run(
            graph(
                """
                {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":0}},
                 "2":{"class_type":"ImageBlur","inputs":{"image":["1",0],"blur_radius":9,"sigma":1.0}},
                 "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"x"}}}\
                """),
            id(),
            "client-err",
            u -> {});
    assertThat(result.status()).isEqualTo(PromptResult.Status.ERROR);
    assertThat(result.error().exceptionType()).isEqualTo("RuntimeError");
    assertThat(result.error().exceptionMessage())
        .contains("Padding size should be less than the corresponding input dimension");
    assertThat(result.error().outOfMemory()).isFalse();
  }

  @Test
  void cancelInterruptsARunningPrompt() throws Exception {
    String promptId = id();
    ObjectNode graph = slowGraph(500, 20);
    CompletableFuture<PromptResult> run =
        CompletableFuture.supplyAsync(() -> client.run(graph, promptId, "client-c", updates::add));
    await("a step")
        .atMost(Duration.ofSeconds(30))
        .until(() -> updates.stream().anyMatch(u -> u.stage() == ProgressUpdate.Stage.STEP));
    client.cancel(promptId);
    PromptResult result = run.get(10, TimeUnit.SECONDS);
    assertThat(result.status()).isEqualTo(PromptResult.Status.INTERRUPTED);
    assertThat(comfy.interruptCount()).isEqualTo(1);
  }

  @Test
  void aQueuedPromptReportsItsPosition() throws Exception {
    String blocker = id();
    client.submit(slowGraph(40, 20), blocker, "someone-else");
    PromptResult result = client.run(slowGraph(1, 1), id(), "client-q", updates::add);
    assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(updates)
        .anySatisfy(u -> {
          assertThat(u.stage()).isEqualTo(ProgressUpdate.Stage.QUEUED);
          assertThat(u.queuePosition()).isEqualTo(1);
        });
    // polled every 250 ms for about a second: its place is told once, not on every poll
    assertThat(updates)
        .filteredOn(u -> u.stage() == ProgressUpdate.Stage.QUEUED)
        .extracting(ProgressUpdate::queuePosition)
        .doesNotHaveDuplicates();
  }

  @Test
  void uploadsAnImageForLoadImage() throws Exception {
    Path png = TestImages.writePng(TestImages.sample(), tmp.resolve("in/sample.png"));
    UploadedImage uploaded = client.uploadImage(png, "sample.png");
    assertThat(uploaded.loadImageValue()).isEqualTo("sample.png");
    assertThat(client.uploadImage(png, "sample.png").name())
        .as("identical bytes keep the name")
        .isEqualTo("sample.png");
    PromptResult result =
        client.run(
            graph(
                """
                {"1":{"class_type":"LoadImage","inputs":{"image":"%s"}},
                 "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"loaded"}}}\
                """
                    .formatted(uploaded.loadImageValue())),
            id(),
            "client-u",
            u -> {});
    assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
  }

  @Test
  void anInvalidGraphIsRefusedWithTheNodesErrors() throws Exception {
    assertThatThrownBy(() ->
            client.run(
                graph(
                    """
                    {"1":{"class_type":"LoadImage","inputs":{"image":"nothing.png"}},
                     "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"x"}}}\
                    """),
                id(),
                "client-v",
                u -> {}))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.VALIDATION);
              assertThat(e.userMessage())
                  .isEqualTo("Node 1 (LoadImage): the generator refused the value of 'image'");
              assertThat(e.operatorText())
                  .contains(
                      "Custom validation failed for node (image - Invalid image file: nothing.png)");
            });
    assertThat(comfy.acceptedPromptCount()).isZero();
    assertThat(client.systemStats().path("system").path("comfyui_version").asText()).isNotBlank();
  }
}
