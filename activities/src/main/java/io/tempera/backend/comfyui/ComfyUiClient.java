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
        new BackendHttp<>(http, this.baseUrl, options.requestTimeout(), ComfyUiException::of);
  }

  public URI baseUrl() {
    return baseUrl;
  }

  ComfyUiClientOptions options() {
    return options;
  }

  /**
   * Runs a prompt exactly once and follows it to its end. If a prompt with this id is already
   * finished (in /history) its result is returned; if it is queued or running (in /queue) it is
   * followed; only otherwise is it submitted with POST /prompt. The WebSocket for {@code clientId}
   * is opened before submitting. A dropped WebSocket is reconnected (same clientId) and /history is
   * polled, so no terminal event is missed.
   *
   * @param graph API-format graph {node_id: {class_type, inputs}}
   * @param promptId lowercase hyphenated UUID chosen by the caller
   * @param clientId the ComfyUI client_id (stable across attempts of one run)
   * @param listener receives progress; must not block
   * @return the finished prompt: SUCCESS, ERROR (with the execution error) or INTERRUPTED
   * @throws ComfyUiException VALIDATION for a 400 on submit; UNREACHABLE, SERVER_ERROR, TIMEOUT,
   *     PROTOCOL, ABORTED otherwise
   */
  public PromptResult run(
      ObjectNode graph, String promptId, String clientId, ProgressListener listener) {
    long deadline = System.nanoTime() + options.runTimeout().toNanos();
    Optional<PromptResult> finished = history(promptId);
    if (finished.isPresent()) {
      log.info("prompt {} already finished; re-attached to its result", promptId);
      return finished.get().withSubmitted(false);
    }
    try (PromptFollower follower = new PromptFollower(this, graph, promptId, clientId, listener)) {
      follower.connect();
      boolean submitted = false;
      if (queueStatus(promptId).known()) {
        log.info("prompt {} is already queued or running; following it", promptId);
      } else {
        finished = history(promptId);
        if (finished.isPresent()) {
          return finished.get().withSubmitted(false);
        }
        submit(graph, promptId, clientId);
        submitted = true;
      }
      return follower.await(deadline).withSubmitted(submitted);
    }
  }

  /** POST /prompt only. */
  public SubmitResponse submit(ObjectNode graph, String promptId, String clientId) {
    ObjectNode body = json.createObjectNode();
    body.set("prompt", graph);
    body.put("client_id", clientId);
    if (promptId != null) {
      body.put("prompt_id", promptId);
    }
    HttpResponse<String> response = send(calls.post("/prompt", body.toString()));
    JsonNode reply = parse(response, "/prompt");
    if (response.statusCode() == 200) {
      return new SubmitResponse(
          reply.path("prompt_id").asText(promptId),
          reply.path("number").asLong(),
          reply.path("node_errors"));
    }
    if (response.statusCode() == 400) {
      throw validation(reply);
    }
    throw httpError("/prompt", response);
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

  /** GET /queue: whether the prompt is pending or running, and its position. */
  public QueueStatus queueStatus(String promptId) {
    HttpResponse<String> response = send(calls.get("/queue"));
    if (response.statusCode() != 200) {
      throw httpError("/queue", response);
    }
    JsonNode queue = parse(response, "/queue");
    for (JsonNode item : queue.path("queue_running")) {
      if (promptId.equals(item.path(1).asText())) {
        return new QueueStatus(true, false, 0);
      }
    }
    List<double[]> pending = new ArrayList<>();
    double ours = Double.NaN;
    for (JsonNode item : queue.path("queue_pending")) {
      double number = item.path(0).asDouble();
      pending.add(new double[] {number});
      if (promptId.equals(item.path(1).asText())) {
        ours = number;
      }
    }
    if (Double.isNaN(ours)) {
      return QueueStatus.ABSENT;
    }
    final double mine = ours;
    int ahead = (int) pending.stream().filter(n -> n[0] < mine).count();
    return new QueueStatus(false, true, ahead + 1);
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

  /** GET /view streamed to {@code target} (never held whole in memory). Returns bytes written. */
  public long download(OutputFile output, Path target) {
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

  /** POST /interrupt {prompt_id} and POST /queue {delete:[id]}: stops it running or pending. */
  public void cancel(String promptId) {
    ObjectNode interrupt = json.createObjectNode().put("prompt_id", promptId);
    HttpResponse<String> first = send(calls.post("/interrupt", interrupt.toString()));
    if (first.statusCode() != 200) {
      throw httpError("/interrupt", first);
    }
    ObjectNode delete = json.createObjectNode();
    delete.putArray("delete").add(promptId);
    HttpResponse<String> second = send(calls.post("/queue", delete.toString()));
    if (second.statusCode() != 200) {
      throw httpError("/queue", second);
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

  @Override
  public void close() {
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
