package io.tempera.backend.comfyui;

import static io.tempera.backend.BackendHttp.abbreviate;
import static io.tempera.backend.BackendHttp.encode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendHttp;
import io.tempera.backend.MultipartBody;
import io.tempera.backend.comfyui.ComfyUiException.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one door to a ComfyUI server (real or the testkit one). Speaks the real wire protocol: POST
 * /prompt, /ws, /history, /queue, /view, /upload/image, /interrupt, /system_stats. Blocking (its
 * callers are activity threads); a thread interrupt aborts any call with {@link Kind#ABORTED}.
 *
 * <p>Every failure is a {@link ComfyUiException} with a {@link ComfyUiException.Kind}.
 */
public final class ComfyUiClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ComfyUiClient.class);

  private final URI baseUrl;
  private final ComfyUiClientOptions options;
  private final HttpClient http;
  private final BackendHttp<ComfyUiException> calls;
  private final ObjectMapper json = new ObjectMapper();

  public ComfyUiClient(URI baseUrl, ComfyUiClientOptions options) {
    this.baseUrl = BackendHttp.root(baseUrl);
    this.options = options;
    this.http = HttpClient.newBuilder().connectTimeout(options.connectTimeout()).build();
    this.calls =
        new BackendHttp<>(
            http,
            this.baseUrl,
            options.requestTimeout(),
            ComfyUiException::of,
            ComfyUiBackend.TYPE,
            options.tracing());
  }

  public URI baseUrl() {
    return baseUrl;
  }

  ComfyUiClientOptions options() {
    return options;
  }

  /** The key in a prompt's {@code extra_data} that names the Tempera run it belongs to. */
  static final String RUN_MARKER = "tempera_run";

  /**
   * How many of the newest /history entries are searched for a run's marker on a server that
   * assigns its own prompt ids: a run re-attached after a worker died is among the server's recent
   * prompts.
   */
  static final int HISTORY_SCAN = 500;

  /**
   * Whether this server keeps the prompt_id a client sends (ComfyUI since late 2024); older ones
   * assign their own. Null until the first submit tells.
   */
  private volatile Boolean keepsPromptIds;

  /**
   * Runs a prompt exactly once and follows it to its end. If the run is already finished (in
   * /history) its result is returned; if it is queued or running (in /queue) it is followed; only
   * otherwise is it submitted with POST /prompt. The run is found by its id or, on a server that
   * assigns its own prompt ids, by the marker {@value #RUN_MARKER} that every submit puts in {@code
   * extra_data}. The WebSocket for {@code clientId} is opened before submitting. A dropped
   * WebSocket is reconnected (same clientId) and /history is polled, so no terminal event is
   * missed. A server that stops answering is waited for ({@link
   * ComfyUiClientOptions#restartGrace}); if it lost the run meanwhile (it restarted), the run fails
   * retryably so that the next attempt submits it again: one submission per attempt.
   *
   * @param graph API-format graph {node_id: {class_type, inputs}}
   * @param runId the run's id, a lowercase hyphenated UUID chosen by the caller: the prompt id on
   *     servers that keep it, the marker on all
   * @param clientId the ComfyUI client_id (stable across attempts of one run)
   * @param listener receives progress; must not block
   * @return the finished prompt: SUCCESS, ERROR (with the execution error) or INTERRUPTED
   * @throws ComfyUiException VALIDATION for a refused prompt (a 400, or a 200 with node errors);
   *     MISSING_NODE for a node class the server does not have; UNREACHABLE, SERVER_ERROR, TIMEOUT,
   *     PROTOCOL, ABORTED otherwise
   */
  public PromptResult run(
      ObjectNode graph, String runId, String clientId, ProgressListener listener) {
    return run(graph, runId, clientId, listener, true, options.restartGrace());
  }

  /**
   * {@link #run(ObjectNode, String, String, ProgressListener)}, where {@code waitIfDownAtStart}
   * false fails at once (UNREACHABLE) when the server does not answer the run's first call (a
   * caller with other servers to go to does not wait for this one), and a server that stops
   * answering later is waited for up to {@code restartGrace} (zero: not at all, for a caller that
   * has its own way back, such as a model container the host restarts).
   */
  public PromptResult run(
      ObjectNode graph,
      String runId,
      String clientId,
      ProgressListener listener,
      boolean waitIfDownAtStart,
      Duration restartGrace) {
    long deadline = System.nanoTime() + options.runTimeout().toNanos();
    ServerWait wait = serverWait(listener, restartGrace);
    Optional<PromptResult> finished =
        waitIfDownAtStart ? wait.through(() -> history(runId)) : history(runId);
    if (finished.isPresent()) {
      log.info("prompt {} already finished; re-attached to its result", runId);
      return finished.get().withSubmitted(false);
    }
    try (PromptFollower follower = new PromptFollower(this, graph, clientId, listener, wait)) {
      follower.connect(); // the server just answered: a socket it refuses now is a real fault
      while (true) {
        Optional<Located> found = wait.through(() -> locate(runId));
        if (found.isPresent() && found.get().finished().isPresent()) {
          log.info("run {} already finished; re-attached to its result", runId);
          return found.get().finished().get().withSubmitted(false);
        }
        if (found.isPresent()) {
          log.info(
              "run {} is already queued or running (prompt {}); following it",
              runId,
              found.get().promptId());
          follower.follow(found.get().promptId());
          return follower.await(deadline).withSubmitted(false);
        }
        SubmitResponse submitted;
        try {
          submitted = submit(graph, runId, clientId);
        } catch (ComfyUiException e) {
          if (e.kind() != Kind.UNREACHABLE) {
            throw e;
          }
          // the server may or may not have taken it: once it answers again, look before submitting
          wait.pause(e);
          continue;
        }
        follower.follow(submitted.promptId());
        return follower.await(deadline).withSubmitted(true);
      }
    }
  }

  private ServerWait serverWait(ProgressListener listener, Duration restartGrace) {
    return new ServerWait(
        baseUrl.toString(),
        restartGrace,
        () ->
            listener.onUpdate(
                new ProgressUpdate(
                    ProgressUpdate.Stage.SERVER_DOWN, 0, null, null, null, null, null, null, null)),
        () -> closing);
  }

  /**
   * Where a run is on the server.
   *
   * @param promptId the server's id of the run's prompt
   * @param finished its result when it has finished; empty while queued or running
   */
  record Located(String promptId, Optional<PromptResult> finished) {}

  /**
   * Finds a run: in /queue (by id or marker), then in /history (by id; by marker on servers that
   * assign their own ids). In that order, so a prompt that finishes meanwhile is still found
   * (ComfyUI writes the history before it leaves the queue).
   */
  Optional<Located> locate(String runId) {
    Optional<QueueEntry> queued = queueEntry(runId);
    if (queued.isPresent()) {
      return Optional.of(new Located(queued.get().promptId(), Optional.empty()));
    }
    Optional<PromptResult> done = history(runId);
    if (done.isPresent()) {
      return Optional.of(new Located(runId, done));
    }
    if (Boolean.TRUE.equals(keepsPromptIds)) {
      return Optional.empty();
    }
    HttpResponse<String> response = send(calls.get("/history?max_items=" + HISTORY_SCAN));
    if (response.statusCode() != 200) {
      throw httpError("/history", response);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = parse(response, "/history").fields();
        it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      if (runId.equals(entry.getValue().path("prompt").path(3).path(RUN_MARKER).asText(null))) {
        return Optional.of(
            new Located(
                entry.getKey(),
                Optional.of(HistoryParser.parse(entry.getKey(), entry.getValue()))));
      }
    }
    return Optional.empty();
  }

  /**
   * A run in /queue: its prompt's id on the server, whether it runs, and its place in line (1 =
   * next).
   */
  record QueueEntry(String promptId, boolean running, int position) {}

  /** The run in /queue, found by its id or by its marker. */
  Optional<QueueEntry> queueEntry(String runId) {
    HttpResponse<String> response = send(calls.get("/queue"));
    if (response.statusCode() != 200) {
      throw httpError("/queue", response);
    }
    JsonNode queue = parse(response, "/queue");
    for (JsonNode item : queue.path("queue_running")) {
      if (isRun(item, runId)) {
        return Optional.of(new QueueEntry(item.path(1).asText(), true, 0));
      }
    }
    JsonNode ours = null;
    for (JsonNode item : queue.path("queue_pending")) {
      if (isRun(item, runId)) {
        ours = item;
      }
    }
    if (ours == null) {
      return Optional.empty();
    }
    double mine = ours.path(0).asDouble();
    int ahead = 0;
    for (JsonNode item : queue.path("queue_pending")) {
      if (item.path(0).asDouble() < mine) {
        ahead++;
      }
    }
    return Optional.of(new QueueEntry(ours.path(1).asText(), false, ahead + 1));
  }

  /** A /queue item {@code [number, id, prompt, extra_data, outputs]} of this run. */
  private static boolean isRun(JsonNode item, String runId) {
    return runId.equals(item.path(1).asText(null))
        || runId.equals(item.path(3).path(RUN_MARKER).asText(null));
  }

  /**
   * POST /prompt only, with the run's marker in {@code extra_data}. A 200 whose {@code node_errors}
   * is not empty means the server dropped the invalid outputs and queued the rest: that partial
   * prompt is taken off the queue again and the submit fails with the node errors, as a 400 would.
   *
   * @return the server's answer; its prompt id is the server's (a server may assign its own)
   */
  public SubmitResponse submit(ObjectNode graph, String runId, String clientId) {
    ObjectNode body = json.createObjectNode();
    body.set("prompt", graph);
    body.put("client_id", clientId);
    if (runId != null) {
      body.put("prompt_id", runId);
      body.putObject("extra_data").put(RUN_MARKER, runId);
    }
    HttpResponse<String> response = send(calls.post("/prompt", body.toString()));
    JsonNode reply = parse(response, "/prompt");
    if (response.statusCode() == 200) {
      String serverId = reply.path("prompt_id").asText(runId);
      if (runId != null) {
        boolean keeps = runId.equals(serverId);
        if (keepsPromptIds == null || keepsPromptIds != keeps) {
          log.info(
              "ComfyUI {} {} the prompt ids clients send",
              baseUrl,
              keeps ? "keeps" : "assigns its own ids instead of");
          keepsPromptIds = keeps;
        }
      }
      JsonNode nodeErrors = reply.path("node_errors");
      if (nodeErrors.isObject() && !nodeErrors.isEmpty()) {
        stopQueued(serverId);
        ComfyUiException refused = validation(reply);
        throw new ComfyUiException(
            Kind.VALIDATION,
            "ComfyUI ran only part of the graph and refused the rest: " + refused.userMessage(),
            200,
            refused.nodeErrors(),
            null);
      }
      return new SubmitResponse(serverId, reply.path("number").asLong(), nodeErrors);
    }
    if (response.statusCode() == 400) {
      throw validation(reply);
    }
    if (response.statusCode() >= 500) {
      // ComfyUI before its missing_node_type error (early 2024) fails a prompt naming an unknown
      // node class with a bare 500 (a KeyError): its node catalogue tells
      Optional<String> missing = classMissingFromCatalogue(graph);
      if (missing.isPresent()) {
        throw new ComfyUiException(
            Kind.MISSING_NODE,
            "This ComfyUI has no node class '" + missing.get() + "'",
            response.statusCode(),
            List.of(),
            null,
            missing.get());
      }
    }
    throw httpError("/prompt", response);
  }

  /** The first node class of {@code graph} that the server's /object_info lacks, if it answers. */
  private Optional<String> classMissingFromCatalogue(ObjectNode graph) {
    try {
      HttpResponse<String> response = send(calls.get("/object_info"));
      if (response.statusCode() != 200) {
        return Optional.empty();
      }
      JsonNode catalogue = parse(response, "/object_info");
      for (JsonNode node : graph) {
        String classType = node.path("class_type").asText("");
        if (!classType.isEmpty() && !catalogue.has(classType)) {
          return Optional.of(classType);
        }
      }
    } catch (ComfyUiException e) {
      log.debug("/object_info did not answer: {}", e.getMessage());
    }
    return Optional.empty();
  }

  /** Takes a prompt just submitted off the queue (or interrupts it, if it already runs). */
  private void stopQueued(String promptId) {
    try {
      cancel(promptId);
    } catch (ComfyUiException e) {
      log.warn(
          "could not take the partly refused prompt {} off the queue: {}",
          promptId,
          e.getMessage());
    }
  }

  /** GET /history/{id}: empty while queued or running or unknown. */
  public Optional<PromptResult> history(String promptId) {
    HttpResponse<String> response = send(calls.get("/history/" + encode(promptId)));
    if (response.statusCode() != 200) {
      throw httpError("/history", response);
    }
    JsonNode entry = parse(response, "/history").get(promptId);
    if (entry == null || entry.isNull() || !entry.isObject()) {
      return Optional.empty();
    }
    return Optional.of(HistoryParser.parse(promptId, entry));
  }

  /** GET /queue: whether the run is pending or running, and its position. */
  public QueueStatus queueStatus(String runId) {
    return queueEntry(runId)
        .map(e ->
            e.running()
                ? new QueueStatus(true, false, 0)
                : new QueueStatus(false, true, e.position()))
        .orElse(QueueStatus.ABSENT);
  }

  /**
   * POST /upload/image (multipart, type=input), streaming the file. Returns the server's name for
   * it.
   */
  public UploadedImage uploadImage(Path file, String filename) {
    MultipartBody form =
        new MultipartBody()
            .file("image", filename, file)
            .field("type", "input")
            .field("overwrite", "false");
    HttpRequest.BodyPublisher body;
    try {
      body = form.publisher();
    } catch (IOException e) {
      throw new ComfyUiException(
          Kind.NOT_FOUND, "cannot read " + file + ": " + e.getMessage(), null, null, e);
    }
    HttpResponse<String> response =
        send(
            calls
                .request("/upload/image")
                .header("Content-Type", form.contentType())
                .POST(body)
                .build());
    if (response.statusCode() != 200) {
      throw httpError("/upload/image", response);
    }
    JsonNode reply = parse(response, "/upload/image");
    if (!reply.path("name").isTextual()) {
      throw new ComfyUiException(
          Kind.PROTOCOL, "/upload/image answered without a name: " + abbreviate(response.body()));
    }
    return new UploadedImage(
        reply.get("name").asText(),
        reply.path("subfolder").asText(""),
        reply.path("type").asText("input"));
  }

  /** The {@link OutputFile#type()} of an image a SaveImageWebsocket node sent, spooled here. */
  public static final String WEBSOCKET_OUTPUT = "websocket";

  /**
   * Where this client keeps the images SaveImageWebsocket nodes send until they are collected (one
   * folder per prompt): ComfyUI keeps no copy of them, so only the worker that followed the run can
   * collect them.
   */
  private final Path spool = Path.of(System.getProperty("java.io.tmpdir"), "tempera-comfyui-ws");

  OutputFile spoolWebsocketImage(String promptId, String nodeId, byte[] image, String contentType) {
    String extension = "image/jpeg".equals(contentType) ? ".jpg" : ".png";
    try {
      Path dir = java.nio.file.Files.createDirectories(spool.resolve(safeName(promptId)));
      int number;
      try (var existing = java.nio.file.Files.list(dir)) {
        number = (int) existing.count() + 1;
      }
      String name = "tempera_ws_%s_%05d_%s".formatted(safeName(nodeId), number, extension);
      java.nio.file.Files.write(dir.resolve(name), image);
      return new OutputFile(nodeId, "images", name, safeName(promptId), WEBSOCKET_OUTPUT);
    } catch (IOException e) {
      throw new ComfyUiException(
          Kind.PROTOCOL,
          "cannot keep an image the WebSocket sent: " + e.getMessage(),
          null,
          null,
          e);
    }
  }

  private static String safeName(String value) {
    String name = value == null ? "" : value.replaceAll("[^A-Za-z0-9_-]", "_");
    return name.isEmpty() ? "_" : name;
  }

  /**
   * GET /view streamed to {@code target} (never held whole in memory), or for an image a
   * SaveImageWebsocket node sent, moved from this client's spool. Returns bytes written.
   */
  public long download(OutputFile output, Path target) {
    if (WEBSOCKET_OUTPUT.equals(output.type())) {
      String name = output.filename();
      Path file = spool.resolve(safeName(output.subfolder())).resolve(name.isEmpty() ? "_" : name);
      if (!name.matches("[A-Za-z0-9_-][A-Za-z0-9_.-]*")
          || !file.normalize().startsWith(spool)
          || !java.nio.file.Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        throw new ComfyUiException(
            Kind.NOT_FOUND,
            "the image node "
                + output.nodeId()
                + " sent over the WebSocket is no longer here"
                + " (ComfyUI keeps no copy; only the worker that followed the run has it)",
            null,
            null,
            null);
      }
      try {
        java.nio.file.Files.createDirectories(target.toAbsolutePath().getParent());
        java.nio.file.Files.move(file, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return java.nio.file.Files.size(target);
      } catch (IOException e) {
        throw new ComfyUiException(
            Kind.NOT_FOUND,
            "cannot move an image the WebSocket sent: " + e.getMessage(),
            null,
            null,
            e);
      }
    }
    String query =
        BackendHttp.query(
            "filename",
            output.filename(),
            "subfolder",
            output.subfolder() == null ? "" : output.subfolder(),
            "type",
            output.type() == null ? "output" : output.type());
    HttpResponse<InputStream> response = calls.open(calls.get("/view?" + query), "/view");
    try (InputStream in = response.body()) {
      if (response.statusCode() == 404) {
        throw new ComfyUiException(
            Kind.NOT_FOUND,
            "output " + output.filename() + " is not on the server",
            404,
            null,
            null);
      }
      if (response.statusCode() != 200) {
        throw new ComfyUiException(
            response.statusCode() >= 500 ? Kind.SERVER_ERROR : Kind.PROTOCOL,
            "/view answered " + response.statusCode() + " for " + output.filename(),
            response.statusCode(),
            null,
            null);
      }
      return BackendHttp.save(in, target, bytes -> {});
    } catch (IOException e) {
      throw calls.failure("/view", e);
    }
  }

  /**
   * Stops a run, found by its id or marker: a pending prompt is deleted from the queue (then looked
   * for again, in case it started meanwhile), a running one is interrupted with POST /interrupt
   * {prompt_id}. Only a prompt seen running is interrupted, because older servers ignore the
   * prompt_id and interrupt whatever runs. Nothing happens for a run that is not in the queue.
   */
  public void cancel(String runId) {
    for (int round = 0; round < 3; round++) {
      Optional<QueueEntry> entry = queueEntry(runId);
      if (entry.isEmpty()) {
        return;
      }
      if (entry.get().running()) {
        ObjectNode interrupt = json.createObjectNode().put("prompt_id", entry.get().promptId());
        HttpResponse<String> answer = send(calls.post("/interrupt", interrupt.toString()));
        if (answer.statusCode() != 200) {
          throw httpError("/interrupt", answer);
        }
        return;
      }
      ObjectNode delete = json.createObjectNode();
      delete.putArray("delete").add(entry.get().promptId());
      HttpResponse<String> answer = send(calls.post("/queue", delete.toString()));
      if (answer.statusCode() != 200) {
        throw httpError("/queue", answer);
      }
    }
  }

  /** GET /system_stats as raw JSON. */
  public ObjectNode systemStats() {
    HttpResponse<String> response = send(calls.get("/system_stats"));
    if (response.statusCode() != 200) {
      throw httpError("/system_stats", response);
    }
    JsonNode stats = parse(response, "/system_stats");
    if (!stats.isObject()) {
      throw new ComfyUiException(Kind.PROTOCOL, "/system_stats is not a JSON object");
    }
    return (ObjectNode) stats;
  }

  /** Set by {@link #close}: runs waiting for the server stop waiting. */
  private volatile boolean closing;

  @Override
  public void close() {
    closing = true;
    http.close();
  }

  // --- plumbing shared with PromptFollower ---

  HttpClient http() {
    return http;
  }

  ObjectMapper json() {
    return json;
  }

  URI webSocketUri(String clientId) {
    String scheme = baseUrl.getScheme().equals("https") ? "wss" : "ws";
    return URI.create(
        scheme
            + baseUrl.toString().substring(baseUrl.getScheme().length())
            + "/ws?clientId="
            + encode(clientId));
  }

  private HttpResponse<String> send(HttpRequest request) {
    return calls.send(request);
  }

  private JsonNode parse(HttpResponse<String> response, String path) {
    return calls.json(response, path);
  }

  private static ComfyUiException httpError(String path, HttpResponse<String> response) {
    int status = response.statusCode();
    Kind kind =
        status >= 500 ? Kind.SERVER_ERROR : status == 404 ? Kind.NOT_FOUND : Kind.SERVER_ERROR;
    return new ComfyUiException(kind, BackendHttp.answered(path, response), status, null, null);
  }

  private static final java.util.regex.Pattern OLD_MISSING_NODE =
      java.util.regex.Pattern.compile("Cannot execute because node (.+) does not exist\\.?");
  private static final java.util.regex.Pattern MISSING_NODE =
      java.util.regex.Pattern.compile("Node '(.+)' not found.*");

  /**
   * The node class a refused prompt names as missing: {@code missing_node_type} on newer servers
   * ({@code extra_info.class_type}), an {@code invalid_prompt} "Cannot execute because node X does
   * not exist." on older ones.
   */
  static Optional<String> missingNodeClass(JsonNode error) {
    String type = error.path("type").asText("");
    String message = error.path("message").asText("");
    java.util.regex.Matcher old = OLD_MISSING_NODE.matcher(message);
    if (old.matches()) {
      return Optional.of(old.group(1));
    }
    if (!type.equals("missing_node_type")) {
      return Optional.empty();
    }
    String named = error.path("extra_info").path("class_type").asText("");
    if (!named.isBlank()) {
      return Optional.of(named);
    }
    java.util.regex.Matcher m = MISSING_NODE.matcher(message);
    return Optional.of(m.matches() ? m.group(1) : "(unnamed)");
  }

  private ComfyUiException validation(JsonNode reply) {
    List<NodeError> nodeErrors = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = reply.path("node_errors").fields();
        it.hasNext(); ) {
      Map.Entry<String, JsonNode> node = it.next();
      String classType = node.getValue().path("class_type").asText(null);
      for (JsonNode error : node.getValue().path("errors")) {
        nodeErrors.add(
            new NodeError(
                node.getKey(),
                classType,
                error.path("type").asText(null),
                error.path("message").asText(null),
                error.path("details").asText(null),
                error.path("extra_info").path("input_name").asText(null)));
      }
    }
    JsonNode error = reply.path("error");
    Optional<String> missing = missingNodeClass(error);
    if (missing.isPresent()) {
      return new ComfyUiException(
          Kind.MISSING_NODE,
          "This ComfyUI has no node class '" + missing.get() + "'",
          400,
          List.of(),
          null,
          missing.get());
    }
    String message = error.path("message").asText("The prompt was refused");
    String details = error.path("details").asText("");
    return new ComfyUiException(
        Kind.VALIDATION,
        message
            + (details.isBlank() ? "" : ": " + details)
            + " ["
            + error.path("type").asText("unknown")
            + "]",
        400,
        nodeErrors,
        null);
  }
}
