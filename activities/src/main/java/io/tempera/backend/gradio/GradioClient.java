package io.tempera.backend.gradio;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.gradio.GradioException.Kind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one door to a Gradio server (4.x, 5.x, 6.x). Speaks its wire protocol as Gradio's own
 * clients do: {@code GET /config} and {@code {prefix}/info} to discover it, {@code /login} when the
 * app needs one, {@code {prefix}/upload} for input files, the queue protocol ({@code queue/join} and
 * the session's {@code queue/data} event stream) for predictions — or the two-step
 * {@code {prefix}/call/{api}} protocol where the queue is not offered — {@code {prefix}/cancel} and
 * {@code {prefix}/file=} downloads. Blocking (its callers are activity threads); every reply is
 * validated and every failure is a {@link GradioException} with a {@link GradioException.Kind}.
 */
public final class GradioClient implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(GradioClient.class);
  private static final Object END = new Object();
  private static final long PREVIEW_EVERY_MILLIS = 250;
  private static final long PREVIEW_MAX_BYTES = 8L << 20;

  private final URI baseUrl;
  private final GradioClientOptions options;
  private final HttpClient http;
  private final io.tempera.backend.BackendHttp calls;
  private final ObjectMapper json = new ObjectMapper();
  private volatile GradioApi api;

  public GradioClient(URI baseUrl, GradioClientOptions options) {
    String base = baseUrl.toString();
    this.baseUrl = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
    this.options = options;
    this.http = HttpClient.newBuilder()
        .connectTimeout(options.connectTimeout())
        .cookieHandler(new CookieManager(null, CookiePolicy.ACCEPT_ALL))
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
    this.calls = new io.tempera.backend.BackendHttp(http, this.baseUrl, options.requestTimeout());
  }

  public URI baseUrl() {
    return baseUrl;
  }

  /** The server's API, discovered once and kept (re-read with {@link #discover()}). */
  public GradioApi api() {
    GradioApi known = api;
    return known != null ? known : discover();
  }

  /** Forgets the discovered API, so the next call reads it again (after the server may have restarted). */
  public void forget() {
    api = null;
  }

  /** GET /config then GET {prefix}/info, logging in first when the app needs it. */
  public GradioApi discover() {
    HttpResponse<String> config = sendAuthenticated(() -> calls.get("/config"));
    if (config.statusCode() != 200) {
      throw httpError("/config", config);
    }
    JsonNode c = parse(config, "/config");
    if (!c.isObject() || !c.path("dependencies").isArray()) {
      throw new GradioException(Kind.PROTOCOL, "/config is not a Gradio config (no dependencies): " + abbreviate(config.body()));
    }
    String prefix = c.path("api_prefix").isTextual() ? c.get("api_prefix").asText() : "";
    if (prefix.endsWith("/")) {
      prefix = prefix.substring(0, prefix.length() - 1);
    }
    String infoPath = prefix + "/info";
    HttpResponse<String> infoResponse = sendAuthenticated(() -> calls.get(infoPath));
    if (infoResponse.statusCode() != 200) {
      throw httpError(infoPath, infoResponse);
    }
    JsonNode info = parse(infoResponse, infoPath);
    if (!info.path("named_endpoints").isObject()) {
      throw new GradioException(Kind.PROTOCOL, infoPath + " has no named_endpoints: " + abbreviate(infoResponse.body()));
    }
    Map<Integer, String> componentTypes = new LinkedHashMap<>();
    for (JsonNode component : c.path("components")) {
      componentTypes.put(component.path("id").asInt(-1), component.path("type").asText(""));
    }
    Map<String, GradioApi.Endpoint> endpoints = new LinkedHashMap<>();
    JsonNode dependencies = c.get("dependencies");
    for (int i = 0; i < dependencies.size(); i++) {
      JsonNode dependency = dependencies.get(i);
      JsonNode apiName = dependency.path("api_name");
      if (!apiName.isTextual() || apiName.asText().isBlank()) {
        continue;
      }
      String name = apiName.asText().startsWith("/") ? apiName.asText() : "/" + apiName.asText();
      JsonNode described = info.get("named_endpoints").get(name);
      if (described == null || !described.path("parameters").isArray()) {
        continue; // hidden from the API
      }
      List<GradioApi.Parameter> parameters = new ArrayList<>();
      for (JsonNode p : described.get("parameters")) {
        parameters.add(new GradioApi.Parameter(
            p.path("parameter_name").isTextual() ? p.get("parameter_name").asText() : null,
            p.path("label").asText(null),
            p.path("parameter_has_default").asBoolean(false),
            p.get("parameter_default"),
            p.path("component").asText(null)));
      }
      List<GradioApi.Parameter> inputs = new ArrayList<>();
      int next = 0;
      for (JsonNode input : dependency.path("inputs")) {
        String type = componentTypes.getOrDefault(input.asInt(-1), "");
        if (type.equals("state") || next >= parameters.size()) {
          inputs.add(null);
        } else {
          inputs.add(parameters.get(next++));
        }
      }
      while (next < parameters.size()) {
        inputs.add(parameters.get(next++)); // a config without inputs: /info's order is the order
      }
      int fnIndex = dependency.has("id") && dependency.get("id").canConvertToInt() ? dependency.get("id").asInt() : i;
      endpoints.put(name, new GradioApi.Endpoint(
          name, fnIndex, List.copyOf(parameters), java.util.Collections.unmodifiableList(inputs),
          !(dependency.path("queue").isBoolean() && !dependency.get("queue").asBoolean()),
          dependency.path("types").path("generator").asBoolean(false)));
    }
    GradioApi discovered = new GradioApi(
        c.path("version").asText("unknown"), prefix, c.path("protocol").asText(""),
        !c.has("enable_queue") || c.path("enable_queue").asBoolean(true), Map.copyOf(endpoints));
    api = discovered;
    return discovered;
  }

  /** POST {prefix}/upload (multipart, field "files"), streaming the file. Returns its path on the server. */
  public String upload(Path file) {
    String prefix = api().apiPrefix();
    String boundary = "----tempera" + UUID.randomUUID().toString().replace("-", "");
    String safeName = file.getFileName().toString().replace("\"", "_").replace("\r", "_").replace("\n", "_");
    String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"" + safeName
        + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    String tail = "\r\n--" + boundary + "--\r\n";
    HttpResponse<String> response = sendAuthenticated(() -> {
      try {
        return calls.request(prefix + "/upload")
            .header("Content-Type", "multipart/form-data; boundary=" + boundary)
            .POST(HttpRequest.BodyPublishers.concat(
                HttpRequest.BodyPublishers.ofString(head),
                HttpRequest.BodyPublishers.ofFile(file),
                HttpRequest.BodyPublishers.ofString(tail)))
            .build();
      } catch (IOException e) {
        throw new GradioException(Kind.NOT_FOUND, "cannot read " + file + ": " + e.getMessage(), null, e);
      }
    });
    if (response.statusCode() == 413) {
      throw new GradioException(Kind.VALIDATION, "the file " + safeName + " is larger than the Gradio app accepts", 413, null);
    }
    if (response.statusCode() != 200) {
      throw httpError(prefix + "/upload", response);
    }
    JsonNode paths = parse(response, prefix + "/upload");
    if (!paths.isArray() || paths.size() != 1 || !paths.get(0).isTextual()) {
      throw new GradioException(Kind.PROTOCOL, prefix + "/upload did not answer a list of one path: " + abbreviate(response.body()));
    }
    return paths.get(0).asText();
  }

  /** The FileData value for an uploaded file, as Gradio 5.5+ requires (older versions accept it). */
  public ObjectNode fileData(String serverPath, String origName) {
    ObjectNode value = json.createObjectNode();
    value.put("path", serverPath);
    value.put("orig_name", origName);
    value.putObject("meta").put("_type", "gradio.FileData");
    return value;
  }

  /**
   * Runs one prediction to its end: the queue protocol when the server offers it, else /call.
   *
   * @param data the positional inputs, hidden ones (State) as null
   * @param sessionHash the queue session this prediction is joined to (fresh per attempt)
   * @param joined told the event id as soon as the server accepted the job (for cancelling)
   * @throws GradioException VALIDATION, EXECUTION, AUTH, BUSY, UNREACHABLE, SERVER_ERROR, TIMEOUT,
   *     PROTOCOL, or ABORTED when the calling thread was interrupted (the job is then cancelled)
   */
  public GradioResult predict(
      GradioApi.Endpoint endpoint, ArrayNode data, String sessionHash, Consumer<BackendProgress> progress, Consumer<String> joined) {
    GradioApi server = api();
    if (server.queueProtocol() && endpoint.queue()) {
      String eventId = join(server, endpoint, data, sessionHash);
      if (eventId != null) {
        joined.accept(eventId);
        return follow(server, endpoint, sessionHash, eventId, progress);
      }
      log.info("{} offers no queue/join for {}; using /call", baseUrl, endpoint.apiName());
    }
    return call(server, endpoint, data, progress, joined);
  }

  /** POST {prefix}/cancel: removes a queued job, stops a running async one. */
  public void cancel(String sessionHash, int fnIndex, String eventId) {
    String path = api().apiPrefix() + "/cancel";
    ObjectNode body = json.createObjectNode().put("session_hash", sessionHash).put("fn_index", fnIndex);
    if (eventId != null) {
      body.put("event_id", eventId);
    }
    HttpResponse<String> response = sendAuthenticated(() -> calls.post(path, body.toString()));
    if (response.statusCode() != 200) {
      throw httpError(path, response);
    }
  }

  /**
   * Streams an output file to {@code target} (never whole in memory), from its {@code url} when that
   * is on this server, else from {@code {prefix}/file=<path>}. Checks the size the server reported.
   */
  public long download(GradioFile file, Path target) {
    HttpResponse<InputStream> response = openFile(file);
    try (InputStream in = response.body()) {
      Files.createDirectories(target.toAbsolutePath().getParent());
      Path temp = Files.createTempFile(target.toAbsolutePath().getParent(), ".download-", ".part");
      try {
        long bytes = Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
        if (file.size() != null && file.size() != bytes) {
          throw new GradioException(Kind.PROTOCOL, "the output " + file.name() + " is " + bytes + " bytes; the server said " + file.size());
        }
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return bytes;
      } finally {
        Files.deleteIfExists(temp);
      }
    } catch (IOException e) {
      throw transport("file=" + file.path(), e);
    }
  }

  /** A small PNG or JPEG output's bytes, for a live preview; null when it is neither or too big. */
  byte[] previewBytes(GradioFile file) {
    String name = file.name().toLowerCase(java.util.Locale.ROOT);
    String mime = file.mimeType() == null ? "" : file.mimeType();
    boolean image = name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg")
        || mime.equals("image/png") || mime.equals("image/jpeg");
    if (!image || (file.size() != null && file.size() > PREVIEW_MAX_BYTES)) {
      return null;
    }
    HttpResponse<InputStream> response = openFile(file);
    try (InputStream in = response.body()) {
      byte[] bytes = in.readNBytes((int) PREVIEW_MAX_BYTES + 1);
      return bytes.length > PREVIEW_MAX_BYTES ? null : bytes;
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void close() {
    http.close();
  }

  // --- the queue protocol ---

  /** POST {prefix}/queue/join; null when the server has no such route (use /call). */
  private String join(GradioApi server, GradioApi.Endpoint endpoint, ArrayNode data, String sessionHash) {
    String path = server.apiPrefix() + "/queue/join";
    ObjectNode body = json.createObjectNode();
    body.set("data", data);
    body.put("fn_index", endpoint.fnIndex());
    body.put("session_hash", sessionHash);
    body.putNull("event_data");
    body.putNull("trigger_id");
    HttpResponse<String> response = sendAuthenticated(() -> calls.post(path, body.toString()));
    if (response.statusCode() == 404 || response.statusCode() == 405) {
      return null;
    }
    if (response.statusCode() != 200) {
      throw refusal(path, response);
    }
    JsonNode reply = parse(response, path);
    if (!reply.path("event_id").isTextual() || reply.get("event_id").asText().isBlank()) {
      throw new GradioException(Kind.PROTOCOL, path + " answered without an event_id: " + abbreviate(response.body()));
    }
    return reply.get("event_id").asText();
  }

  /** Follows the session's queue/data stream until our event completes. */
  private GradioResult follow(GradioApi server, GradioApi.Endpoint endpoint, String sessionHash, String eventId, Consumer<BackendProgress> progress) {
    String path = server.apiPrefix() + "/queue/data?session_hash=" + encode(sessionHash);
    boolean done = false;
    try (EventStream stream = openStream(path)) {
      Outputs outputs = new Outputs();
      long deadline = System.nanoTime() + options.runTimeout().toNanos();
      while (true) {
        Sse event = stream.next(deadline);
        JsonNode message;
        try {
          message = json.readTree(event.data());
        } catch (JsonProcessingException e) {
          throw new GradioException(Kind.PROTOCOL, "the event stream sent malformed JSON: " + abbreviate(event.data()));
        }
        if (message == null || !message.isObject() || !message.path("msg").isTextual()) {
          throw new GradioException(Kind.PROTOCOL, "the event stream sent an event without msg: " + abbreviate(event.data()));
        }
        String msg = message.get("msg").asText();
        JsonNode id = message.get("event_id");
        boolean ours = id == null || id.isNull() || eventId.equals(id.asText());
        if (!ours) {
          continue;
        }
        switch (msg) {
          case "estimation" -> {
            int rank = message.path("rank").asInt(0);
            JsonNode eta = message.get("rank_eta");
            String text = "Waiting in the generator's queue (position " + (rank + 1)
                + (message.path("queue_size").isInt() ? " of " + message.get("queue_size").asInt() : "") + ")"
                + (eta != null && eta.isNumber() ? ", about " + Math.max(1, Math.round(eta.asDouble())) + " s" : "");
            progress.accept(new BackendProgress(0, null, null, rank + 1, text, null));
          }
          case "process_starts" -> {
            JsonNode eta = message.get("eta");
            progress.accept(new BackendProgress(0, null, null, null,
                eta != null && eta.isNumber() ? "Starting (about " + Math.max(1, Math.round(eta.asDouble())) + " s)" : "Starting", null));
          }
          case "progress" -> progress.accept(progressOf(message.path("progress_data")));
          case "log" -> {
            if (message.path("log").isTextual()) {
              progress.accept(new BackendProgress(outputs.fraction, null, null, null, message.get("log").asText(), null));
            }
          }
          case "process_generating", "process_streaming" -> {
            JsonNode values = message.path("output").path("data");
            if (!values.isArray()) {
              throw new GradioException(Kind.PROTOCOL, msg + " without output data: " + abbreviate(event.data()));
            }
            outputs.update((ArrayNode) values);
            progress.accept(new BackendProgress(outputs.fraction, null, null, null, "Generating (intermediate result)", outputs.preview(this)));
          }
          case "process_completed" -> {
            done = true;
            return completed(message, eventId, event.data());
          }
          case "unexpected_error" -> {
            done = true;
            if (message.path("session_not_found").asBoolean(false)) {
              throw new GradioException(Kind.UNREACHABLE, "the Gradio server lost the queue session (it may have restarted)");
            }
            throw new GradioException(Kind.SERVER_ERROR, "the Gradio server failed: " + message.path("message").asText("no message"));
          }
          case "close_stream" -> throw new GradioException(Kind.UNREACHABLE, "the event stream closed before the prediction finished");
          default -> { } // heartbeat, and types a newer server adds
        }
      }
    } catch (GradioException e) {
      if (!done || e.kind() == Kind.ABORTED) {
        cancelQuietly(sessionHash, endpoint.fnIndex(), eventId); // never leave a job running that no one follows
      }
      throw e;
    }
  }

  private GradioResult completed(JsonNode message, String eventId, String raw) {
    JsonNode output = message.path("output");
    if (!message.path("success").asBoolean(true)) {
      JsonNode error = output.get("error");
      throw new GradioException(Kind.EXECUTION, error != null && error.isTextual() && !error.asText().isBlank()
          ? error.asText()
          : "the Gradio app raised an error and did not show its message (the app can show it with show_error=True)");
    }
    if (output.isObject() && !output.has("data")) {
      return new GradioResult(List.of(), true, eventId); // output:{} is what a cancelled job completes with
    }
    if (!output.path("data").isArray()) {
      throw new GradioException(Kind.PROTOCOL, "process_completed without output data: " + abbreviate(raw));
    }
    List<JsonNode> values = new ArrayList<>();
    output.get("data").forEach(values::add);
    return new GradioResult(values, false, eventId);
  }

  private static BackendProgress progressOf(JsonNode data) {
    if (!data.isArray() || data.isEmpty()) {
      return new BackendProgress(0, null, null, null, "Generating", null);
    }
    double fraction = 0;
    double scale = 1;
    Integer step = null;
    Integer total = null;
    String desc = null;
    for (JsonNode entry : data) { // outermost first: each inner loop refines the one around it
      double part;
      Integer length = entry.path("length").isNumber() ? entry.get("length").asInt() : null;
      if (entry.path("index").isNumber() && length != null && length > 0) {
        part = entry.get("index").asDouble() / length;
        if (step == null) {
          step = entry.get("index").asInt();
          total = length;
        }
      } else if (entry.path("progress").isNumber()) {
        part = entry.get("progress").asDouble();
      } else {
        continue;
      }
      fraction += scale * Math.max(0, Math.min(1, part));
      scale = length != null && length > 0 ? scale / length : 0;
      if (desc == null && entry.path("desc").isTextual()) {
        desc = entry.get("desc").asText();
      }
    }
    String message = step != null ? (desc != null ? desc + ": " : "") + "step " + step + " of " + total
        : desc != null ? desc : "Generating";
    return new BackendProgress(Math.min(1, fraction), step, total, null, message, null);
  }

  /** The intermediate outputs of a generator: full values first, then diffs applied to them. */
  private static final class Outputs {
    private List<JsonNode> values;
    double fraction;
    private long previewAt;

    void update(ArrayNode data) {
      if (values == null) {
        values = new ArrayList<>();
        data.forEach(v -> values.add(v.deepCopy()));
        return;
      }
      if (data.size() != values.size()) {
        throw new GradioException(Kind.PROTOCOL, "a generator update has " + data.size() + " outputs, not " + values.size());
      }
      for (int i = 0; i < data.size(); i++) {
        values.set(i, Diffs.apply(values.get(i), data.get(i)));
      }
    }

    byte[] preview(GradioClient client) {
      long now = System.currentTimeMillis();
      if (values == null || now - previewAt < PREVIEW_EVERY_MILLIS) {
        return null;
      }
      List<GradioFile> files = new ArrayList<>();
      values.forEach(v -> collectFiles(v, files));
      if (files.isEmpty()) {
        return null;
      }
      previewAt = now;
      return client.previewBytes(files.get(files.size() - 1));
    }
  }

  // --- the two-step /call protocol ---

  private GradioResult call(GradioApi server, GradioApi.Endpoint endpoint, ArrayNode data, Consumer<BackendProgress> progress, Consumer<String> joined) {
    String name = endpoint.apiName().substring(1);
    String path = server.apiPrefix() + "/call/" + name;
    ObjectNode body = json.createObjectNode();
    body.set("data", data);
    HttpResponse<String> response = sendAuthenticated(() -> calls.post(path, body.toString()));
    if (response.statusCode() != 200) {
      throw refusal(path, response);
    }
    JsonNode reply = parse(response, path);
    if (!reply.path("event_id").isTextual() || reply.get("event_id").asText().isBlank()) {
      throw new GradioException(Kind.PROTOCOL, path + " answered without an event_id: " + abbreviate(response.body()));
    }
    String eventId = reply.get("event_id").asText();
    joined.accept(eventId);
    progress.accept(new BackendProgress(0, null, null, null, "Starting", null));
    boolean done = false;
    try (EventStream stream = openStream(path + "/" + encode(eventId))) {
      long deadline = System.nanoTime() + options.runTimeout().toNanos();
      while (true) {
        Sse event = stream.next(deadline);
        JsonNode value;
        try {
          value = json.readTree(event.data());
        } catch (JsonProcessingException e) {
          throw new GradioException(Kind.PROTOCOL, "the /call stream sent malformed JSON: " + abbreviate(event.data()));
        }
        switch (event.event() == null ? "" : event.event()) {
          case "complete" -> {
            done = true;
            if (value == null || value.isNull()) {
              return new GradioResult(List.of(), true, eventId);
            }
            if (!value.isArray()) {
              throw new GradioException(Kind.PROTOCOL, "the /call result is not a list: " + abbreviate(event.data()));
            }
            List<JsonNode> values = new ArrayList<>();
            value.forEach(values::add);
            return new GradioResult(values, false, eventId);
          }
          case "error" -> {
            done = true;
            String message = value == null || value.isNull() ? null
                : value.isTextual() ? value.asText()
                : value.path("error").isTextual() ? value.get("error").asText() : null;
            throw new GradioException(Kind.EXECUTION, message != null && !message.isBlank() ? message
                : "the Gradio app raised an error and did not show its message (the app can show it with show_error=True)");
          }
          case "generating" -> progress.accept(new BackendProgress(0, null, null, null, "Generating (intermediate result)", null));
          default -> { } // heartbeat
        }
      }
    } catch (GradioException e) {
      if (!done) {
        cancelQuietly(eventId, endpoint.fnIndex(), eventId); // a /call job's session is its event id
      }
      throw e;
    }
  }

  // --- event streams ---

  private record Sse(String event, String data) {}

  /**
   * An SSE response read on its own virtual thread, so that the caller can wait with a timeout
   * (no event for streamIdleTimeout) and be interrupted.
   */
  private final class EventStream implements AutoCloseable {
    private final InputStream body;
    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private final Thread reader;

    EventStream(InputStream body) {
      this.body = body;
      this.reader = Thread.ofVirtual().name("gradio-sse").start(this::read);
    }

    private void read() {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
        String eventName = null;
        StringBuilder data = null;
        String line;
        while ((line = lines.readLine()) != null) {
          if (line.isEmpty()) {
            if (data != null) {
              events.add(new Sse(eventName, data.toString()));
            }
            eventName = null;
            data = null;
          } else if (line.startsWith("data:")) {
            String part = line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5);
            data = data == null ? new StringBuilder(part) : data.append('\n').append(part);
          } else if (line.startsWith("event:")) {
            eventName = line.substring(6).trim();
          }
        }
        if (data != null) {
          events.add(new Sse(eventName, data.toString()));
        }
        events.add(END);
      } catch (IOException e) {
        events.add(e);
      }
    }

    Sse next(long deadline) {
      long idle = options.streamIdleTimeout().toNanos();
      Object item;
      try {
        item = events.poll(Math.min(idle, Math.max(0, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new GradioException(Kind.ABORTED, "interrupted while following the prediction", null, e);
      }
      if (item == null) {
        if (System.nanoTime() >= deadline) {
          throw new GradioException(Kind.TIMEOUT, "the prediction did not finish within " + options.runTimeout());
        }
        throw new GradioException(Kind.TIMEOUT, "the event stream sent nothing (not even a heartbeat) for " + options.streamIdleTimeout());
      }
      if (item == END) {
        throw new GradioException(Kind.UNREACHABLE, "the event stream ended before the prediction finished");
      }
      if (item instanceof IOException e) {
        throw new GradioException(Kind.UNREACHABLE, "the event stream broke: " + e, null, e);
      }
      return (Sse) item;
    }

    @Override
    public void close() {
      reader.interrupt();
      Thread.ofVirtual().start(() -> {
        try {
          body.close();
        } catch (IOException ignored) {
          // closing a broken stream
        }
      });
    }
  }

  private EventStream openStream(String path) {
    HttpResponse<InputStream> response;
    HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
        .timeout(options.requestTimeout())
        .header("Accept", "text/event-stream")
        .GET()
        .build();
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException | InterruptedException e) {
      throw transport(path, e);
    }
    if (response.statusCode() != 200) {
      String body;
      try (InputStream in = response.body()) {
        body = new String(in.readNBytes(2000), StandardCharsets.UTF_8);
      } catch (IOException e) {
        body = "";
      }
      Kind kind = response.statusCode() == 401 || response.statusCode() == 403 ? Kind.AUTH
          : response.statusCode() == 404 ? Kind.UNREACHABLE : Kind.SERVER_ERROR;
      throw new GradioException(kind, path + " answered HTTP " + response.statusCode() + ": " + abbreviate(body), response.statusCode(), null);
    }
    return new EventStream(response.body());
  }

  // --- files ---

  private HttpResponse<InputStream> openFile(GradioFile file) {
    URI uri = fileUri(file);
    HttpResponse<InputStream> response;
    try {
      response = http.send(HttpRequest.newBuilder(uri).timeout(options.requestTimeout()).GET().build(),
          HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException | InterruptedException e) {
      throw transport("file=" + file.path(), e);
    }
    if (response.statusCode() != 200) {
      try {
        response.body().close();
      } catch (IOException ignored) {
        // nothing to read
      }
      Kind kind = response.statusCode() == 404 || response.statusCode() == 403 ? Kind.NOT_FOUND
          : response.statusCode() == 401 ? Kind.AUTH : Kind.SERVER_ERROR;
      throw new GradioException(kind, "the output " + file.name() + " could not be fetched: HTTP " + response.statusCode(), response.statusCode(), null);
    }
    return response;
  }

  /** The file's url when it points at this server, else {prefix}/file=path: never another host. */
  URI fileUri(GradioFile file) {
    if (file.url() != null && file.url().startsWith(baseUrl + "/")) {
      return URI.create(file.url());
    }
    if (file.path() == null || file.path().isBlank()) {
      throw new GradioException(Kind.PROTOCOL, "an output file has neither a path nor a url on " + baseUrl);
    }
    if (file.path().startsWith("http://") || file.path().startsWith("https://")) {
      throw new GradioException(Kind.PROTOCOL, "an output file lives on another host: " + abbreviate(file.path()));
    }
    return URI.create(baseUrl + api().apiPrefix() + "/file=" + encodePath(file.path()));
  }

  /** Every FileData inside a value (a dict with a path and gradio.FileData meta, or path+url). */
  static void collectFiles(JsonNode value, List<GradioFile> into) {
    if (value == null) {
      return;
    }
    if (value.isObject()) {
      boolean fileData = "gradio.FileData".equals(value.path("meta").path("_type").asText(null))
          || (value.path("path").isTextual() && value.has("url") && value.has("orig_name"));
      if (fileData && (value.path("path").isTextual() || value.path("url").isTextual())) {
        into.add(new GradioFile(
            value.path("path").asText(null), value.path("url").asText(null), value.path("orig_name").asText(null),
            value.path("mime_type").asText(null), value.path("size").isIntegralNumber() ? value.get("size").asLong() : null));
        return;
      }
      value.elements().forEachRemaining(v -> collectFiles(v, into));
    } else if (value.isArray()) {
      value.forEach(v -> collectFiles(v, into));
    }
  }

  // --- plumbing ---

  private interface RequestFactory {
    HttpRequest build();
  }

  /** Sends; on 401 logs in (once) with the configured credentials and sends again. */
  private HttpResponse<String> sendAuthenticated(RequestFactory factory) {
    HttpResponse<String> response = send(factory.build());
    if (response.statusCode() == 401 || response.statusCode() == 403 && response.body().contains("Not authenticated")) {
      if (!options.hasCredentials()) {
        throw new GradioException(Kind.AUTH, "the Gradio app at " + baseUrl + " needs a login ("
            + detail(response.body()) + "); set tempera.worker.gradio-username and gradio-password", response.statusCode(), null);
      }
      login();
      response = send(factory.build());
      if (response.statusCode() == 401) {
        throw new GradioException(Kind.AUTH, "the Gradio app at " + baseUrl + " still refuses us after logging in: " + detail(response.body()), 401, null);
      }
    }
    return response;
  }

  /** POST /login (form): the cookie it sets is kept by the client's cookie store. */
  private void login() {
    String form = "username=" + encode(options.username()) + "&password=" + encode(options.password());
    HttpResponse<String> response = send(calls.request("/login")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString(form))
        .build());
    if (response.statusCode() != 200) {
      throw new GradioException(Kind.AUTH, "logging in to the Gradio app at " + baseUrl + " failed: " + detail(response.body()), response.statusCode(), null);
    }
    log.info("logged in to the Gradio app at {}", baseUrl);
  }

  private void cancelQuietly(String sessionHash, int fnIndex, String eventId) {
    boolean interrupted = Thread.interrupted();
    try {
      cancel(sessionHash, fnIndex, eventId);
    } catch (RuntimeException e) {
      log.debug("cancelling event {} on {} failed: {}", eventId, baseUrl, e.getMessage());
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private HttpResponse<String> send(HttpRequest request) {
    return calls.send(request, GradioClient::transportError);
  }

  private GradioException transport(String path, Exception e) {
    return calls.failure(path, e, GradioClient::transportError);
  }

  private static GradioException transportError(io.tempera.backend.BackendHttp.Failure failure, String message, Exception cause) {
    Kind kind = switch (failure) {
      case ABORTED -> Kind.ABORTED;
      case TIMEOUT -> Kind.TIMEOUT;
      case UNREACHABLE -> Kind.UNREACHABLE;
    };
    return new GradioException(kind, message, null, cause);
  }

  private JsonNode parse(HttpResponse<String> response, String path) {
    try {
      JsonNode node = json.readTree(response.body());
      if (node == null || node.isMissingNode()) {
        throw new GradioException(Kind.PROTOCOL, path + " answered " + response.statusCode() + " with an empty body", response.statusCode(), null);
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new GradioException(Kind.PROTOCOL, path + " answered malformed JSON: " + abbreviate(response.body()), response.statusCode(), e);
    }
  }

  /** A refused join or call: 422/400 are the inputs' fault, 503 a full queue, 5xx the server's. */
  private GradioException refusal(String path, HttpResponse<String> response) {
    int status = response.statusCode();
    String detail = detail(response.body());
    return switch (status) {
      case 400, 422 -> new GradioException(Kind.VALIDATION, "the Gradio app refused the inputs: " + detail, status, null);
      case 503 -> new GradioException(Kind.BUSY, "the Gradio app is busy: " + detail, status, null);
      default -> httpError(path, response);
    };
  }

  private static GradioException httpError(String path, HttpResponse<String> response) {
    int status = response.statusCode();
    Kind kind = status == 401 || status == 403 ? Kind.AUTH : status == 404 ? Kind.NOT_FOUND : Kind.SERVER_ERROR;
    return new GradioException(kind, path + " answered HTTP " + status + ": " + abbreviate(response.body()), status, null);
  }

  /**
   * The server's words from an error body: {"detail": "…"} (4.x, early 5.x), {"detail": {"error",
   * "auth_message"}} (5.36+, 6.x), a validator's [{"msg"}] list, or the plain body.
   */
  static String detail(String body) {
    try {
      JsonNode node = new ObjectMapper().readTree(body);
      JsonNode detail = node == null ? null : node.get("detail");
      if (detail != null) {
        if (detail.isTextual()) {
          return detail.asText();
        }
        if (detail.isObject()) {
          String error = detail.path("error").asText("");
          String auth = detail.path("auth_message").asText("");
          return (error + (auth.isBlank() ? "" : (error.isBlank() ? "" : ": ") + auth)).trim();
        }
        if (detail.isArray() && !detail.isEmpty()) {
          List<String> parts = new ArrayList<>();
          detail.forEach(d -> parts.add(d.path("msg").asText(d.toString())));
          return String.join("; ", parts);
        }
      }
      if (node != null && node.path("error").isTextual()) {
        return node.get("error").asText();
      }
    } catch (JsonProcessingException | RuntimeException notJson) {
      // a plain-text body
    }
    return abbreviate(body);
  }

  static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private static String encodePath(String path) {
    return encode(path).replace("%2F", "/").replace("+", "%20");
  }

  static String abbreviate(String body) {
    if (body == null) {
      return "";
    }
    return body.length() <= 300 ? body : body.substring(0, 300) + "…";
  }
}
