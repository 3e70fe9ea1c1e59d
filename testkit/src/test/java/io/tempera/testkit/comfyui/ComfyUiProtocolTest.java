package io.tempera.testkit.comfyui;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The testkit server speaks ComfyUI's protocol: routes, shapes, event order, errors. */
class ComfyUiProtocolTest {

  @TempDir Path tmp;
  ComfyUiTestServer server;
  final HttpClient http = HttpClient.newHttpClient();
  final ObjectMapper json = new ObjectMapper();

  @BeforeEach
  void setUp() {
    server = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp));
  }

  @AfterEach
  void tearDown() {
    server.close();
  }

  static final String INVERT =
      """
      {"1":{"class_type":"EmptyImage","inputs":{"width":4,"height":2,"batch_size":1,"color":%d}},
       "2":{"class_type":"ImageInvert","inputs":{"image":["1",0]}},
       "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"t"}}}\
      """;

  static final String SLOW =
      """
      {"1":{"class_type":"EmptyImage","inputs":{"width":4,"height":4,"batch_size":1,"color":%d}},
       "2":{"class_type":"TemperaDelay","inputs":{"image":["1",0],"steps":%d,"step_ms":20}},
       "3":{"class_type":"SaveImage","inputs":{"images":["2",0],"filename_prefix":"slow"}}}\
      """;

  HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  String submit(String graph, String clientId) throws Exception {
    String id = UUID.randomUUID().toString();
    HttpResponse<String> r =
        post(
            "/prompt",
            "{\"prompt\":"
                + graph
                + ",\"client_id\":\""
                + clientId
                + "\",\"prompt_id\":\""
                + id
                + "\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(json.readTree(r.body()).get("prompt_id").asText()).isEqualTo(id);
    return id;
  }

  JsonNode waitForHistory(String id) {
    return org.awaitility.Awaitility.await("the history of " + id)
        .atMost(java.time.Duration.ofSeconds(30))
        .until(() -> json.readTree(get("/history/" + id).body()), h -> h.has(id))
        .get(id);
  }

  /** A /ws client collecting text and binary frames. */
  final class Socket implements WebSocket.Listener {
    final LinkedBlockingQueue<JsonNode> texts = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
    final StringBuilder text = new StringBuilder();
    final ByteArrayOutputStream binary = new ByteArrayOutputStream();
    final WebSocket ws;

    Socket(String clientId) throws Exception {
      ws =
          http.newWebSocketBuilder()
              .buildAsync(
                  URI.create("ws://127.0.0.1:" + server.port() + "/ws?clientId=" + clientId), this)
              .get(5, TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          texts.add(json.readTree(text.toString()));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        text.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      binary.writeBytes(chunk);
      if (last) {
        binaries.add(binary.toByteArray());
        binary.reset();
      }
      webSocket.request(1);
      return null;
    }

    /** Types of messages until (and including) executing{node:null} of the prompt. */
    List<String> typesUntilDone(String promptId) throws Exception {
      List<String> types = new ArrayList<>();
      while (true) {
        JsonNode m = texts.poll(10, TimeUnit.SECONDS);
        assertThat(m).as("a message").isNotNull();
        String type = m.get("type").asText();
        types.add(type);
        if (type.equals("executing")
            && m.at("/data/node").isNull()
            && promptId.equals(m.at("/data/prompt_id").asText())) {
          return types;
        }
      }
    }
  }

  @Test
  void aPromptRunsWithComfyUisEventOrderAndWritesARealPng() throws Exception {
    Socket socket = new Socket("c1");
    JsonNode first = socket.texts.poll(5, TimeUnit.SECONDS);
    assertThat(first.get("type").asText()).isEqualTo("status");
    assertThat(first.at("/data/sid").asText()).isEqualTo("c1");

    String id = submit(INVERT.formatted(0x112233), "c1");
    List<String> types = socket.typesUntilDone(id);
    List<String> meaningful =
        types.stream().filter(t -> !t.equals("status") && !t.equals("progress_state")).toList();
    assertThat(meaningful)
        .containsExactly(
            "execution_start",
            "execution_cached",
            "executing",
            "executing",
            "executing",
            "executed",
            "execution_success",
            "executing");
    assertThat(types.subList(types.size() - 3, types.size()))
        .containsExactly("execution_success", "status", "executing");

    JsonNode entry = waitForHistory(id);
    assertThat(entry.at("/status/status_str").asText()).isEqualTo("success");
    assertThat(entry.at("/status/completed").asBoolean()).isTrue();
    assertThat(entry.at("/prompt/1").asText()).isEqualTo(id);
    JsonNode image = entry.at("/outputs/3/images/0");
    assertThat(image.get("filename").asText()).isEqualTo("t_00001_.png");
    HttpResponse<byte[]> view =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        server.baseUrl() + "/view?filename=t_00001_.png&type=output&subfolder="))
                .build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(view.statusCode()).isEqualTo(200);
    assertThat(view.headers().firstValue("content-type")).hasValue("image/png");
    var png = ImageIO.read(new java.io.ByteArrayInputStream(view.body()));
    assertThat(png.getWidth()).isEqualTo(4);
    assertThat(png.getRGB(1, 1) & 0xffffff).isEqualTo(0xffffff - 0x112233);
  }

  @Test
  void eventsGoOnlyToThePromptsClientAndHistoryIsEmptyUntilTheEnd() throws Exception {
    Socket owner = new Socket("owner");
    Socket other = new Socket("other");
    String id = submit(SLOW.formatted(1, 10), "owner");
    assertThat(json.readTree(get("/history/" + id).body()).isEmpty()).isTrue();
    owner.typesUntilDone(id);
    Thread.sleep(100);
    List<String> otherTypes = new ArrayList<>();
    other.texts.forEach(m -> otherTypes.add(m.get("type").asText()));
    assertThat(otherTypes).containsOnly("status");
  }

  @Test
  void identicalResubmissionIsFullyCached() throws Exception {
    Socket socket = new Socket("cache");
    String first = submit(INVERT.formatted(5), "cache");
    socket.typesUntilDone(first);
    String second = submit(INVERT.formatted(5), "cache");
    List<String> types = socket.typesUntilDone(second);
    assertThat(types.stream().filter(t -> t.equals("executing")).count())
        .as("only the final executing{node:null}")
        .isEqualTo(1);
    assertThat(types).contains("execution_cached", "executed", "execution_success");
    assertThat(waitForHistory(second).at("/outputs/3/images/0/filename").asText())
        .isEqualTo("t_00001_.png");
  }

  @Test
  void validationErrorsHaveComfyUisShapes() throws Exception {
    HttpResponse<String> unknown =
        post("/prompt", "{\"prompt\":{\"1\":{\"class_type\":\"KSamplerX\",\"inputs\":{}}}}");
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(json.readTree(unknown.body()).at("/error/type").asText())
        .isEqualTo("missing_node_type");
    assertThat(json.readTree(unknown.body()).get("node_errors").isEmpty()).isTrue();

    HttpResponse<String> tooBig =
        post(
            "/prompt",
            "{\"prompt\":" + INVERT.formatted(1).replace("\"height\":2", "\"height\":20000") + "}");
    JsonNode body = json.readTree(tooBig.body());
    assertThat(tooBig.statusCode()).isEqualTo(400);
    assertThat(body.at("/error/type").asText()).isEqualTo("prompt_outputs_failed_validation");
    assertThat(body.at("/node_errors/1/errors/0/type").asText()).isEqualTo("value_bigger_than_max");
    assertThat(body.at("/node_errors/1/errors/0/details").asText()).isEqualTo("height");
    assertThat(body.at("/node_errors/1/class_type").asText()).isEqualTo("EmptyImage");
    assertThat(body.at("/node_errors/1/dependent_outputs/0").asText()).isEqualTo("3");

    HttpResponse<String> missing =
        post(
            "/prompt",
            "{\"prompt\":" + INVERT.formatted(1).replace("\"image\":[\"1\",0]", "\"x\":1") + "}");
    assertThat(json.readTree(missing.body()).at("/node_errors/2/errors/0/type").asText())
        .isEqualTo("required_input_missing");

    HttpResponse<String> combo =
        post(
            "/prompt",
            "{\"prompt\":{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":4,\"height\":4,\"batch_size\":1,\"color\":0}},"
                + "\"2\":{\"class_type\":\"ImageScaleBy\",\"inputs\":{\"image\":[\"1\",0],\"upscale_method\":\"magic\",\"scale_by\":\"x\"}},"
                + "\"3\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"2\",0],\"filename_prefix\":\"t\"}}}}");
    List<String> types = new ArrayList<>();
    json.readTree(combo.body())
        .at("/node_errors/2/errors")
        .forEach(e -> types.add(e.get("type").asText()));
    assertThat(types).containsExactly("value_not_in_list", "invalid_input_type");

    HttpResponse<String> mismatch =
        post(
            "/prompt",
            "{\"prompt\":{\"1\":{\"class_type\":\"ImagePadForOutpaint\",\"inputs\":{\"image\":[\"0\",0],\"left\":0,\"top\":0,\"right\":0,\"bottom\":0,\"feathering\":0}},"
                + "\"0\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":4,\"height\":4,\"batch_size\":1,\"color\":0}},"
                + "\"3\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",1],\"filename_prefix\":\"t\"}}}}");
    assertThat(json.readTree(mismatch.body()).at("/node_errors/3/errors/0/type").asText())
        .isEqualTo("return_type_mismatch");

    HttpResponse<String> noOutputs =
        post(
            "/prompt",
            "{\"prompt\":{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":4,\"height\":4,\"batch_size\":1,\"color\":0}}}}");
    assertThat(json.readTree(noOutputs.body()).at("/error/type").asText())
        .isEqualTo("prompt_no_outputs");

    HttpResponse<String> badId =
        post("/prompt", "{\"prompt\":" + INVERT.formatted(1) + ",\"prompt_id\":\"ABC\"}");
    assertThat(json.readTree(badId.body()).at("/error/type").asText())
        .isEqualTo("invalid_prompt_id");

    HttpResponse<String> loadMissing =
        post(
            "/prompt",
            "{\"prompt\":{\"1\":{\"class_type\":\"LoadImage\",\"inputs\":{\"image\":\"x.png\"}},"
                + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"t\"}}}}");
    assertThat(json.readTree(loadMissing.body()).at("/node_errors/1/errors/0/details").asText())
        .isEqualTo("image - Invalid image file: x.png");

    assertThat(post("/prompt", "{not json").statusCode()).isEqualTo(500);
    assertThat(server.acceptedPromptCount()).isZero();
  }

  @Test
  void aPartlyValidPromptRunsItsValidOutputsAndReportsTheOthers() throws Exception {
    String graph =
        "{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":4,\"height\":4,\"batch_size\":1,\"color\":0}},"
            + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"ok\"}},"
            + "\"3\":{\"class_type\":\"ImageBlur\",\"inputs\":{\"image\":[\"1\",0],\"blur_radius\":99,\"sigma\":1.0}},"
            + "\"4\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"3\",0],\"filename_prefix\":\"bad\"}}}";
    HttpResponse<String> r = post("/prompt", "{\"prompt\":" + graph + "}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode body = json.readTree(r.body());
    assertThat(body.at("/node_errors/3/errors/0/type").asText()).isEqualTo("value_bigger_than_max");
    JsonNode entry = waitForHistory(body.get("prompt_id").asText());
    assertThat(entry.get("outputs").has("2")).isTrue();
    assertThat(entry.get("outputs").has("4")).isFalse();
  }

  /** The last status message of a history entry: [type, data]. */
  static JsonNode lastMessage(JsonNode entry) {
    JsonNode messages = entry.at("/status/messages");
    return messages.get(messages.size() - 1);
  }

  @Test
  void aPixelBombIsRefusedFromItsHeaderAndTheNextPromptStillRuns() throws Exception {
    io.tempera.testkit.fixtures.PixelBomb.write(tmp.resolve("input/bomb.png"), 20000, 20000);
    assertThat(Files.size(tmp.resolve("input/bomb.png"))).isLessThan(1_000_000);
    String bomb =
        submit(
            "{\"1\":{\"class_type\":\"LoadImage\",\"inputs\":{\"image\":\"bomb.png\"}},"
                + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"b\"}}}",
            "bomb");
    JsonNode failed = waitForHistory(bomb);
    assertThat(failed.at("/status/status_str").asText()).isEqualTo("error");
    JsonNode error = lastMessage(failed);
    assertThat(error.get(0).asText()).isEqualTo("execution_error");
    assertThat(error.get(1).get("exception_type").asText())
        .isEqualTo("PIL.Image.DecompressionBombError");
    assertThat(error.get(1).get("exception_message").asText())
        .isEqualTo(
            "Image size (400000000 pixels) exceeds limit of 178956970 pixels, could be"
                + " decompression bomb DOS attack.");

    String next = submit(INVERT.formatted(0x112233), "bomb");
    assertThat(waitForHistory(next).at("/status/status_str").asText()).isEqualTo("success");
  }

  @Test
  void anErrorInANodeEndsItsPromptWithAnExecutionErrorAndTheExecutorGoesOn() throws Exception {
    server
        .library()
        .add(
            new NodeLibrary.Spec(
                "ExhaustTheHeap",
                "Exhaust the heap",
                "testing",
                List.of(),
                java.util.Map.of(),
                List.of("IMAGE"),
                List.of("IMAGE"),
                false,
                (in, ctx) -> {
                  throw new OutOfMemoryError("Java heap space");
                }));
    String failing =
        submit(
            "{\"1\":{\"class_type\":\"ExhaustTheHeap\",\"inputs\":{}},"
                + "\"2\":{\"class_type\":\"SaveImage\",\"inputs\":{\"images\":[\"1\",0],\"filename_prefix\":\"o\"}}}",
            "oom");
    JsonNode failed = waitForHistory(failing);
    assertThat(failed.at("/status/status_str").asText()).isEqualTo("error");
    JsonNode error = lastMessage(failed);
    assertThat(error.get(0).asText()).isEqualTo("execution_error");
    assertThat(error.get(1).get("exception_type").asText()).isEqualTo("OutOfMemoryError");
    assertThat(error.get(1).get("node_id").asText()).isEqualTo("1");

    String next = submit(INVERT.formatted(0x445566), "oom");
    assertThat(waitForHistory(next).at("/status/status_str").asText()).isEqualTo("success");
  }

  @Test
  void runtimeErrorsAndInterruptsEndInHistoryAsErrors() throws Exception {
    Socket socket = new Socket("err");
    String failing =
        submit(
            INVERT
                .formatted(0)
                .replace(
                    "ImageInvert\",\"inputs\":{\"image\":[\"1\",0]}",
                    "ImageBlur\",\"inputs\":{\"image\":[\"1\",0],\"blur_radius\":3,\"sigma\":1.0}"),
            "err");
    assertThat(socket.typesUntilDone(failing)).contains("execution_error");
    JsonNode failed = waitForHistory(failing);
    assertThat(failed.at("/status/status_str").asText()).isEqualTo("error");
    assertThat(failed.at("/status/completed").asBoolean()).isFalse();
    JsonNode error = failed.at("/status/messages").get(failed.at("/status/messages").size() - 1);
    assertThat(error.get(0).asText()).isEqualTo("execution_error");
    assertThat(error.get(1).get("exception_type").asText()).isEqualTo("RuntimeError");
    assertThat(error.get(1).has("traceback")).isTrue();
    assertThat(error.get(1).has("current_inputs")).isTrue();

    String slow = submit(SLOW.formatted(2, 500), "err");
    Thread.sleep(200);
    assertThat(post("/interrupt", "{\"prompt_id\":\"" + UUID.randomUUID() + "\"}").statusCode())
        .as("targeted at another prompt: no effect")
        .isEqualTo(200);
    Thread.sleep(100);
    assertThat(json.readTree(get("/history/" + slow).body()).isEmpty()).isTrue();
    post("/interrupt", "{\"prompt_id\":\"" + slow + "\"}");
    assertThat(socket.typesUntilDone(slow)).contains("execution_interrupted");
    assertThat(waitForHistory(slow).at("/status/status_str").asText()).isEqualTo("error");
    assertThat(server.interruptCount()).isEqualTo(2);
  }

  @Test
  void theQueueRunsOneAtATimeInPriorityOrder() throws Exception {
    String running = submit(SLOW.formatted(3, 15), "q");
    String later = submit(SLOW.formatted(4, 1), "q");
    String id = UUID.randomUUID().toString();
    post(
        "/prompt",
        "{\"prompt\":" + SLOW.formatted(5, 1) + ",\"prompt_id\":\"" + id + "\",\"front\":true}");
    JsonNode queue = json.readTree(get("/queue").body());
    assertThat(queue.at("/queue_running/0/1").asText()).isEqualTo(running);
    assertThat(queue.at("/queue_pending").size()).isEqualTo(2);
    waitForHistory(later);
    long frontEnd = waitForHistory(id).at("/status/messages/1/1/timestamp").asLong();
    long laterEnd = waitForHistory(later).at("/status/messages/1/1/timestamp").asLong();
    assertThat(frontEnd).as("front jumps the queue").isLessThanOrEqualTo(laterEnd);
    assertThat(json.readTree(get("/prompt").body()).at("/exec_info/queue_remaining").asInt())
        .isZero();
  }

  @Test
  void uploadsRenameOnClashAndDeduplicateIdenticalBytes() throws Exception {
    byte[] a = png(0x00ff00);
    byte[] b = png(0x0000ff);
    assertThat(upload("x.png", a).get("name").asText()).isEqualTo("x.png");
    Path stored;
    try (java.util.stream.Stream<Path> files = Files.walk(tmp)) {
      stored =
          files.filter(p -> p.getFileName().toString().equals("x.png")).findFirst().orElseThrow();
    }
    java.nio.file.attribute.FileTime written = Files.getLastModifiedTime(stored);
    Files.setLastModifiedTime(
        stored, java.nio.file.attribute.FileTime.fromMillis(written.toMillis() - 60_000));
    assertThat(upload("x.png", a).get("name").asText()).isEqualTo("x.png");
    assertThat(Files.getLastModifiedTime(stored).toMillis())
        .as("identical bytes are not written again: a prompt may be reading the file")
        .isEqualTo(written.toMillis() - 60_000);
    assertThat(upload("x.png", b).get("name").asText()).isEqualTo("x (1).png");
    HttpResponse<String> none =
        http.send(
            HttpRequest.newBuilder(URI.create(server.baseUrl() + "/upload/image"))
                .header("Content-Type", "multipart/form-data; boundary=zz")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "--zz\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ninput\r\n--zz--\r\n"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(none.statusCode()).isEqualTo(400);
  }

  @Test
  void viewAnswersWithComfyUisStatusCodesAndApiAliasesWork() throws Exception {
    assertThat(get("/view?filename=/etc/passwd").statusCode()).isEqualTo(400);
    assertThat(get("/view?filename=..%2Fx.png").statusCode()).isEqualTo(400);
    assertThat(get("/view?filename=x.png&subfolder=..%2F..").statusCode()).isEqualTo(403);
    assertThat(get("/view?filename=missing.png").statusCode()).isEqualTo(404);
    assertThat(get("/api/system_stats").statusCode()).isEqualTo(200);
    assertThat(
            json.readTree(get("/api/object_info/ImageScaleBy").body())
                .at("/ImageScaleBy/input/required/scale_by/1/max")
                .asDouble())
        .isEqualTo(8.0);
    assertThat(get("/api/queue").statusCode()).isEqualTo(200);
  }

  @Test
  void saveImageWebsocketSendsBinaryPngFrames() throws Exception {
    Socket socket = new Socket("bin");
    String id =
        submit(
            "{\"1\":{\"class_type\":\"EmptyImage\",\"inputs\":{\"width\":4,\"height\":4,\"batch_size\":1,\"color\":255}},"
                + "\"2\":{\"class_type\":\"SaveImageWebsocket\",\"inputs\":{\"images\":[\"1\",0]}}}",
            "bin");
    socket.typesUntilDone(id);
    byte[] frame = socket.binaries.poll(5, TimeUnit.SECONDS);
    ByteBuffer header = ByteBuffer.wrap(frame);
    assertThat(header.getInt()).isEqualTo(1);
    assertThat(header.getInt()).isEqualTo(2);
    assertThat(new String(frame, 9, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
  }

  JsonNode upload(String name, byte[] content) throws Exception {
    String boundary = "b" + UUID.randomUUID();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.writeBytes(
        ("--"
                + boundary
                + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\""
                + name
                + "\"\r\nContent-Type: image/png\r\n\r\n")
            .getBytes(StandardCharsets.UTF_8));
    body.writeBytes(content);
    body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(server.baseUrl() + "/upload/image"))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return json.readTree(r.body());
  }

  static byte[] png(int color) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    java.awt.image.BufferedImage image =
        new java.awt.image.BufferedImage(2, 2, java.awt.image.BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < 4; i++) {
      image.setRGB(i % 2, i / 2, color);
    }
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }
}
