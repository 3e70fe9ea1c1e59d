package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.multipart.FileUpload;
import io.netty.handler.codec.http.multipart.HttpData;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.http.server.HttpServerRoutes;

/**
 * A ComfyUI server that a client cannot tell apart at the protocol level: the real routes (also
 * under /api), a real queue executing one prompt at a time, /ws events in the real order and
 * shapes, the real validation and execution errors, caching of identical resubmissions, uploads
 * and /view. It really executes CPU image nodes (see {@code testkit/README.md}).
 */
public final class ComfyUiTestServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ComfyUiTestServer.class);
  private static final Pattern UUID_PATTERN =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  private static final long MAX_UPLOAD = 100L * 1024 * 1024;
  private static final int MAX_HISTORY = 10_000;

  /** Where and how the server listens. */
  public record Config(int port, Path dataDir, String host) {
    public Config {
      host = host == null ? "127.0.0.1" : host;
    }

    public static Config ephemeral(Path dataDir) {
      return new Config(0, dataDir, "127.0.0.1");
    }
  }

  private final List<Execution> executions = new ArrayList<>();

  private record Job(double number, String promptId, ObjectNode prompt, ObjectNode extraData, List<String> outputs) {}

  /** A /ws connection. */
  private static final class Session {
    final String clientId;
    final Sinks.Many<WebSocketFrame> out = Sinks.many().unicast().onBackpressureBuffer();
    volatile boolean previewMetadata;

    Session(String clientId) {
      this.clientId = clientId;
    }

    synchronized void send(WebSocketFrame frame) {
      if (out.tryEmitNext(frame).isFailure()) {
        frame.release();
      }
    }

    synchronized void close() {
      out.tryEmitComplete();
    }
  }

  private final ObjectMapper json = new ObjectMapper();
  private final Path inputDir;
  private final Path outputDir;
  private final Path tempDir;
  private final NodeLibrary library = new NodeLibrary();
  private final PromptValidator validator;
  private final Object lock = new Object();
  private final PriorityQueue<Job> pending = new PriorityQueue<>(Comparator.comparingDouble(Job::number));
  private final Map<String, ObjectNode> history = new LinkedHashMap<>();
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final AtomicInteger promptPosts = new AtomicInteger();
  private final AtomicInteger interrupts = new AtomicInteger();
  private final List<String> accepted = new CopyOnWriteArrayList<>();
  private final Thread executor;
  private double counter;
  private Job running;
  private volatile String runningNode;
  private volatile boolean interruptRequested;
  private volatile boolean stopped;
  /** Outputs of the last prompt's nodes by cache key: identical resubmissions are fully cached. */
  private Map<String, NodeOutcome> cache = Map.of();
  private final DisposableServer server;
  private volatile double faultRate;
  private java.util.Random faultRandom = new java.util.Random(0);
  private final Map<String, AtomicInteger> faults = new ConcurrentHashMap<>();

  private record NodeOutcome(List<Object> outputs, Map<String, Object> ui) {}

  private ComfyUiTestServer(Config config) {
    System.setProperty("java.awt.headless", "true");
    Path data = config.dataDir().toAbsolutePath().normalize();
    this.inputDir = data.resolve("input");
    this.outputDir = data.resolve("output");
    this.tempDir = data.resolve("temp");
    try {
      Files.createDirectories(inputDir);
      Files.createDirectories(outputDir);
      Files.createDirectories(tempDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the data folders under " + data, e);
    }
    this.validator = new PromptValidator(library, json, inputDir);
    this.executor = Thread.ofPlatform().name("comfyui-testkit-executor").daemon().start(this::executeLoop);
    this.server = HttpServer.create().host(config.host()).port(config.port()).route(this::routes).bindNow();
    log.info("ComfyUI testkit server listening on {}", baseUrl());
  }

  public static ComfyUiTestServer start(Config config) {
    return new ComfyUiTestServer(config);
  }

  public int port() {
    return server.port();
  }

  public URI baseUrl() {
    return URI.create("http://" + server.host() + ":" + server.port());
  }

  /** POST /prompt requests received, whatever their outcome. */
  public int promptPostCount() {
    return promptPosts.get();
  }

  /** Prompts accepted into the queue. */
  public int acceptedPromptCount() {
    return accepted.size();
  }

  /** POST /interrupt requests received. */
  public int interruptCount() {
    return interrupts.get();
  }

  public List<String> acceptedPromptIds() {
    return List.copyOf(accepted);
  }

  /** A prompt the server started executing: its id and its graph (as submitted). */
  public record Execution(String promptId, ObjectNode prompt) {}

  /**
   * Every execution the server started, in order (a cached resubmission counts: ComfyUI runs it
   * through the executor too). Tests use it to check that a generation ran exactly once.
   */
  public List<Execution> executions() {
    synchronized (executions) {
      return List.copyOf(executions);
    }
  }

  /**
   * Makes the server misbehave like a flaky GPU host: each prompt meets, with probability
   * {@code rate} in all, one of a 500 on POST /prompt, its WebSocket dropped mid-run, or a CUDA
   * out-of-memory error in its first node. Deterministic for a seed.
   */
  public void injectFaults(double rate, long seed) {
    synchronized (lock) {
      faultRate = rate;
      faultRandom = new java.util.Random(seed);
    }
  }

  /** How many faults of each kind were injected. */
  public Map<String, Integer> faultsInjected() {
    Map<String, Integer> counts = new java.util.TreeMap<>();
    faults.forEach((k, v) -> counts.put(k, v.get()));
    return counts;
  }

  /**
   * Draws a fault for the next prompt event: the i-th kind owns the i-th third of the rate (a null
   * kind keeps its share for another event), so the kinds of a prompt add up to the rate.
   */
  private String drawFault(String... kinds) {
    if (faultRate <= 0) {
      return null;
    }
    synchronized (lock) {
      double draw = faultRandom.nextDouble();
      double share = faultRate / 3;
      for (int i = 0; i < kinds.length; i++) {
        if (kinds[i] != null && draw < share * (i + 1) && draw >= share * i) {
          faults.computeIfAbsent(kinds[i], k -> new AtomicInteger()).incrementAndGet();
          return kinds[i];
        }
      }
      return null;
    }
  }

  /** Closes every /ws connection abruptly, as a network drop would. */
  public void dropWebSockets() {
    sessions.values().forEach(Session::close);
    sessions.clear();
  }

  /** Stops like a killed process: connections drop, the running prompt is lost, nothing more is sent. */
  @Override
  public void close() {
    stopped = true;
    dropWebSockets();
    server.disposeNow();
    interruptRequested = true;
    executor.interrupt();
  }

  public static void main(String[] args) {
    int port = 8188;
    Path data = Path.of("comfyui-data");
    String host = "127.0.0.1";
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(args[i + 1]);
        case "--data-dir" -> data = Path.of(args[i + 1]);
        case "--host", "--listen" -> host = args[i + 1];
        default -> throw new IllegalArgumentException("unknown option " + args[i] + " (options: --port, --data-dir, --host)");
      }
    }
    ComfyUiTestServer server = start(new Config(port, data, host));
    System.out.println("ComfyUI testkit server listening on " + server.baseUrl());
    server.server.onDispose().block();
  }

  // --- routes ---

  private void routes(HttpServerRoutes routes) {
    for (String prefix : List.of("", "/api")) {
      routes.post(prefix + "/prompt", this::postPrompt)
          .get(prefix + "/prompt", (req, res) -> json(res, 200, queueInfo()))
          .get(prefix + "/queue", (req, res) -> json(res, 200, queueSnapshot()))
          .post(prefix + "/queue", this::postQueue)
          .post(prefix + "/interrupt", this::postInterrupt)
          .post(prefix + "/free", (req, res) -> req.receive().then(res.status(200).send()))
          .get(prefix + "/history", this::getHistory)
          .get(prefix + "/history/{id}", this::getHistoryEntry)
          .post(prefix + "/history", this::postHistory)
          .get(prefix + "/view", this::view)
          .post(prefix + "/upload/image", this::upload)
          .get(prefix + "/system_stats", (req, res) -> json(res, 200, systemStats()))
          .get(prefix + "/object_info", (req, res) -> json(res, 200, objectInfo(null)))
          .get(prefix + "/object_info/{class}", (req, res) -> json(res, 200, objectInfo(req.param("class"))))
          .get(prefix + "/features", (req, res) -> json(res, 200, features()))
          .get(prefix + "/ws", this::webSocket);
    }
  }

  private Publisher<Void> postPrompt(HttpServerRequest req, HttpServerResponse res) {
    return body(req, (text, r) -> {
      promptPosts.incrementAndGet();
      if ("server_error".equals(drawFault("server_error"))) {
        return res.status(500).header("Content-Type", "text/plain; charset=utf-8")
            .sendString(Mono.just("500 Internal Server Error\n\nServer got itself in trouble"));
      }
      JsonNode body;
      try {
        body = json.readTree(text);
      } catch (IOException e) {
        return res.status(500).header("Content-Type", "text/plain; charset=utf-8")
            .sendString(Mono.just("500 Internal Server Error\n\nServer got itself in trouble"));
      }
      if (body == null || !body.isObject() || !body.path("prompt").isObject()) {
        return json(res, 400, errorReply("no_prompt", "No prompt provided", "No prompt provided", json.createObjectNode()));
      }
      JsonNode requestedId = body.get("prompt_id");
      String promptId;
      if (requestedId == null || requestedId.isNull()) {
        promptId = UUID.randomUUID().toString();
      } else if (requestedId.isTextual() && UUID_PATTERN.matcher(requestedId.asText()).matches()) {
        promptId = requestedId.asText();
      } else {
        return json(res, 400, errorReply("invalid_prompt_id", "Invalid prompt_id",
            "prompt_id must be a lowercase UUID string", json.createObjectNode()));
      }
      ObjectNode prompt = (ObjectNode) body.get("prompt");
      PromptValidator.Outcome outcome = validator.validate(prompt);
      if (outcome.error() != null) {
        ObjectNode reply = json.createObjectNode();
        reply.set("error", outcome.error());
        reply.set("node_errors", outcome.nodeErrors());
        return json(res, 400, reply);
      }
      ObjectNode extra = body.path("extra_data").isObject() ? (ObjectNode) body.get("extra_data").deepCopy() : json.createObjectNode();
      if (body.path("client_id").isTextual()) {
        extra.put("client_id", body.get("client_id").asText());
      }
      extra.put("create_time", System.currentTimeMillis());
      double number;
      synchronized (lock) {
        if (body.path("number").isNumber()) {
          number = body.get("number").asDouble();
        } else if (body.path("front").asBoolean(false)) {
          number = -counter;
        } else {
          number = counter;
        }
        counter++;
        pending.add(new Job(number, promptId, prompt, extra, outcome.validOutputs()));
        accepted.add(promptId);
        lock.notifyAll();
      }
      broadcastStatus();
      ObjectNode reply = json.createObjectNode();
      reply.put("prompt_id", promptId);
      if (number == Math.rint(number)) {
        reply.put("number", (long) number);
      } else {
        reply.put("number", number);
      }
      reply.set("node_errors", outcome.nodeErrors());
      return json(res, 200, reply);
    });
  }

  private Publisher<Void> postQueue(HttpServerRequest req, HttpServerResponse res) {
    return body(req, (text, r) -> {
      JsonNode body = readOrEmpty(text);
      synchronized (lock) {
        if (body.path("clear").asBoolean(false)) {
          pending.clear();
        }
        for (JsonNode id : body.path("delete")) {
          pending.removeIf(job -> job.promptId().equals(id.asText()));
        }
      }
      broadcastStatus();
      return res.status(200).send();
    });
  }

  private Publisher<Void> postInterrupt(HttpServerRequest req, HttpServerResponse res) {
    return body(req, (text, r) -> {
      interrupts.incrementAndGet();
      JsonNode body = readOrEmpty(text);
      synchronized (lock) {
        String target = body.path("prompt_id").asText(null);
        if (running != null && (target == null || target.equals(running.promptId()))) {
          interruptRequested = true;
        }
      }
      return res.status(200).send();
    });
  }

  private Publisher<Void> getHistory(HttpServerRequest req, HttpServerResponse res) {
    Map<String, List<String>> query = new QueryStringDecoder(req.uri()).parameters();
    int max = query.containsKey("max_items") ? Integer.parseInt(query.get("max_items").get(0)) : Integer.MAX_VALUE;
    int offset = query.containsKey("offset") ? Integer.parseInt(query.get("offset").get(0)) : 0;
    ObjectNode reply = json.createObjectNode();
    synchronized (lock) {
      List<Map.Entry<String, ObjectNode>> entries = new ArrayList<>(history.entrySet());
      java.util.Collections.reverse(entries);
      entries.stream().skip(Math.max(0, offset)).limit(Math.max(0, max)).forEach(e -> reply.set(e.getKey(), e.getValue()));
    }
    return json(res, 200, reply);
  }

  private Publisher<Void> getHistoryEntry(HttpServerRequest req, HttpServerResponse res) {
    String id = req.param("id");
    ObjectNode reply = json.createObjectNode();
    synchronized (lock) {
      ObjectNode entry = history.get(id);
      if (entry != null) {
        reply.set(id, entry);
      }
    }
    return json(res, 200, reply);
  }

  private Publisher<Void> postHistory(HttpServerRequest req, HttpServerResponse res) {
    return body(req, (text, r) -> {
      JsonNode body = readOrEmpty(text);
      synchronized (lock) {
        if (body.path("clear").asBoolean(false)) {
          history.clear();
        }
        for (JsonNode id : body.path("delete")) {
          history.remove(id.asText());
        }
      }
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
    Path base = switch (type) {
      case "input" -> inputDir;
      case "temp" -> tempDir;
      default -> outputDir;
    };
    String subfolder = first(query, "subfolder", "");
    Path folder = base.resolve(subfolder).normalize();
    if (!folder.startsWith(base)) {
      return res.status(403).send();
    }
    Path file = folder.resolve(filename).normalize();
    if (!file.startsWith(folder) || !Files.isRegularFile(file)) {
      return res.status(404).send();
    }
    String contentType = filename.endsWith(".png") ? "image/png"
        : filename.endsWith(".jpg") || filename.endsWith(".jpeg") ? "image/jpeg"
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
    if (length != null && Long.parseLong(length) > MAX_UPLOAD) {
      return res.status(413).send();
    }
    return req.receiveForm(form -> form.maxInMemorySize(MAX_UPLOAD).maxSize(MAX_UPLOAD))
        .map(ComfyUiTestServer::copyPart) // parts are released once emitted: copy them at once
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
            return Mono.from(json(res, 200, storeUpload(image.bytes(), image.filename(), fields)));
          } catch (IOException | IllegalArgumentException e) {
            return Mono.from(res.status(400).send());
          }
        })
        .onErrorResume(e -> Mono.from(res.status(413).send()));
  }

  private record FormPart(String name, boolean file, String filename, byte[] bytes) {}

  private static FormPart copyPart(HttpData part) {
    try {
      return new FormPart(part.getName(), part instanceof FileUpload, part instanceof FileUpload f ? f.getFilename() : null, part.get());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * As ComfyUI's {@code image_upload}: without {@code overwrite} an upload whose name is taken by
   * other content gets {@code name (1).ext}, and one identical to the stored file is not written
   * again (a prompt may be reading it). ComfyUI handles uploads one at a time on its event loop;
   * so does this server.
   */
  private synchronized ObjectNode storeUpload(byte[] bytes, String filename, Map<String, String> fields) throws IOException {
    String type = fields.getOrDefault("type", "input");
    Path base = switch (type) {
      case "temp" -> tempDir;
      case "output" -> outputDir;
      default -> inputDir;
    };
    String subfolder = fields.getOrDefault("subfolder", "");
    Path folder = base.resolve(subfolder).normalize();
    String name = Path.of(filename).getFileName().toString();
    if (!folder.startsWith(base) || name.startsWith(".")) {
      throw new IllegalArgumentException("bad upload path");
    }
    Files.createDirectories(folder);
    boolean overwrite = "true".equals(fields.get("overwrite")) || "1".equals(fields.get("overwrite"));
    Path target = folder.resolve(name);
    boolean duplicate = false;
    if (!overwrite) {
      String stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
      String ext = name.contains(".") ? name.substring(name.lastIndexOf('.')) : "";
      int i = 1;
      while (Files.exists(target)) {
        if (Arrays.equals(Files.readAllBytes(target), bytes)) {
          duplicate = true;
          break;
        }
        target = folder.resolve(stem + " (" + i++ + ")" + ext);
      }
    }
    if (!duplicate) {
      Files.write(target, bytes);
    }
    ObjectNode reply = json.createObjectNode();
    reply.put("name", target.getFileName().toString());
    reply.put("subfolder", subfolder);
    reply.put("type", type);
    return reply;
  }

  private Publisher<Void> webSocket(HttpServerRequest req, HttpServerResponse res) {
    String requested = first(new QueryStringDecoder(req.uri()).parameters(), "clientId", null);
    String clientId = requested == null || requested.isBlank() ? UUID.randomUUID().toString().replace("-", "") : requested;
    return res.sendWebsocket((in, out) -> {
      Session session = new Session(clientId);
      Session previous = sessions.put(clientId, session);
      if (previous != null) {
        previous.close();
      }
      ObjectNode status = statusMessage();
      ((ObjectNode) status.get("data")).put("sid", clientId);
      session.send(text(status));
      synchronized (lock) {
        if (running != null && clientId.equals(running.extraData().path("client_id").asText(null)) && runningNode != null) {
          ObjectNode executing = json.createObjectNode();
          executing.put("type", "executing");
          executing.putObject("data").put("node", runningNode).put("display_node", runningNode);
          session.send(text(executing));
        }
      }
      in.receive().asString().subscribe(message -> onClientMessage(session, message), e -> { }, () -> { });
      return out.sendObject(session.out.asFlux())
          .then()
          .doFinally(signal -> sessions.remove(clientId, session));
    });
  }

  private void onClientMessage(Session session, String message) {
    JsonNode node = readOrEmpty(message);
    if ("feature_flags".equals(node.path("type").asText())) {
      session.previewMetadata = node.path("data").path("supports_preview_metadata").asBoolean(false);
      ObjectNode reply = json.createObjectNode();
      reply.put("type", "feature_flags");
      reply.set("data", features());
      session.send(text(reply));
    }
  }

  // --- execution ---

  private void executeLoop() {
    while (!stopped) {
      Job job;
      synchronized (lock) {
        while (pending.isEmpty() && !stopped) {
          try {
            lock.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (stopped) {
          return;
        }
        job = pending.poll();
        running = job;
        interruptRequested = false;
      }
      try {
        execute(job);
      } catch (RuntimeException e) {
        log.error("testkit executor failed on prompt {}", job.promptId(), e);
      } finally {
        synchronized (lock) {
          running = null;
          runningNode = null;
        }
        if (stopped) {
          return;
        }
        broadcastStatus();
        ObjectNode done = json.createObjectNode();
        done.put("type", "executing");
        done.putObject("data").putNull("node").put("prompt_id", job.promptId());
        sendTo(job, done);
      }
    }
  }

  private void execute(Job job) {
    String promptId = job.promptId();
    synchronized (executions) {
      executions.add(new Execution(promptId, job.prompt().deepCopy()));
    }
    List<ArrayNode> messages = new ArrayList<>();
    sendEvent(job, "execution_start", data(promptId), messages);
    List<String> order = executionOrder(job);
    Map<String, String> keys = cacheKeys(job.prompt(), order);
    List<String> cachedNodes = order.stream().filter(id -> cache.containsKey(keys.get(id))).toList();
    ObjectNode cachedData = data(promptId);
    cachedData.set("nodes", json.valueToTree(cachedNodes));
    sendEvent(job, "execution_cached", cachedData, messages);

    Map<String, NodeOutcome> results = new HashMap<>();
    ObjectNode outputs = json.createObjectNode();
    String fault = drawFault(null, "websocket_drop", "out_of_memory");
    List<String> executed = new ArrayList<>(cachedNodes);
    for (String id : cachedNodes) {
      NodeOutcome outcome = cache.get(keys.get(id));
      results.put(id, outcome);
      if (outcome.ui() != null) {
        outputs.set(id, json.valueToTree(outcome.ui()));
        sendExecuted(job, id, outcome.ui());
      }
    }
    for (String id : order) {
      if (results.containsKey(id)) {
        continue;
      }
      if (interruptRequested) {
        interrupted(job, id, executed, messages, outputs);
        return;
      }
      JsonNode node = job.prompt().get(id);
      NodeLibrary.Spec spec = library.get(node.path("class_type").asText());
      runningNode = id;
      sendProgressState(job, id, "running", 0, 1);
      ObjectNode executing = data(promptId);
      executing.put("node", id).put("display_node", id);
      executing.remove("timestamp");
      sendTo(job, message("executing", executing));
      if ("out_of_memory".equals(fault)) {
        failed(job, id, spec.classType(), "torch.OutOfMemoryError",
            "Allocation on device \nThis error means you ran out of memory on your GPU.", executed, messages, outputs, inputsSummary(node));
        return;
      }
      if ("websocket_drop".equals(fault)) {
        fault = null;
        Session session = sessionOf(job);
        if (session != null) {
          sessions.remove(session.clientId, session);
          session.close();
        }
      }
      try {
        Map<String, Object> inputs = resolveInputs(node.path("inputs"), spec, results);
        NodeOutcome outcome = runNode(job, id, spec, inputs);
        results.put(id, outcome);
        executed.add(id);
        sendProgressState(job, id, "finished", 1, 1);
        if (outcome.ui() != null) {
          outputs.set(id, json.valueToTree(outcome.ui()));
          sendExecuted(job, id, outcome.ui());
        }
      } catch (InterruptedException e) {
        interrupted(job, id, executed, messages, outputs);
        return;
      } catch (NodeLibrary.NodeException e) {
        failed(job, id, spec.classType(), e.type, e.getMessage(), executed, messages, outputs, inputsSummary(node));
        return;
      } catch (Exception e) {
        failed(job, id, spec.classType(), e.getClass().getSimpleName(), String.valueOf(e.getMessage()), executed, messages, outputs, inputsSummary(node));
        return;
      }
    }
    Map<String, NodeOutcome> nextCache = new HashMap<>();
    order.forEach(id -> nextCache.put(keys.get(id), results.get(id)));
    cache = nextCache;
    ObjectNode success = data(promptId);
    ArrayNode entryMessages = json.createArrayNode();
    messages.forEach(entryMessages::add);
    entryMessages.add(json.createArrayNode().add("execution_success").add(success));
    writeHistory(job, "success", true, entryMessages, outputs);
    sendTo(job, message("execution_success", success));
  }

  private NodeOutcome runNode(Job job, String id, NodeLibrary.Spec spec, Map<String, Object> inputs) throws Exception {
    NodeLibrary.Context context = new NodeLibrary.Context() {
      @Override public Path inputDir() { return inputDir; }
      @Override public Path outputDir() { return outputDir; }
      @Override public Path tempDir() { return tempDir; }

      @Override
      public void progress(int value, int max) {
        ObjectNode data = json.createObjectNode();
        data.put("value", value).put("max", max).put("prompt_id", job.promptId()).put("node", id);
        sendTo(job, message("progress", data));
        sendProgressState(job, id, "running", value, max);
      }

      @Override
      public void checkInterrupted() throws InterruptedException {
        if (interruptRequested || stopped) {
          throw new InterruptedException("interrupted");
        }
      }

      @Override
      public void sendImage(BufferedImage image) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(ImageOps.rgb(image), "png", png);
        Session session = sessionOf(job);
        if (session == null) {
          return;
        }
        ByteBuf frame = Unpooled.buffer();
        if (session.previewMetadata) {
          ObjectNode meta = json.createObjectNode();
          meta.put("node_id", id).put("prompt_id", job.promptId()).put("display_node_id", id)
              .putNull("parent_node_id");
          meta.put("real_node_id", id).put("image_type", "image/png");
          byte[] metaBytes = json.writeValueAsBytes(meta);
          frame.writeInt(4).writeInt(metaBytes.length).writeBytes(metaBytes);
        } else {
          frame.writeInt(1).writeInt(2);
        }
        frame.writeBytes(png.toByteArray());
        session.send(new BinaryWebSocketFrame(frame));
      }
    };
    NodeLibrary.Result result = spec.work().run(inputs, context);
    return new NodeOutcome(result.outputs(), result.ui());
  }

  private void interrupted(Job job, String nodeId, List<String> executed, List<ArrayNode> messages, ObjectNode outputs) {
    if (stopped) {
      return; // the process is going away: it records and sends nothing more
    }
    ObjectNode data = data(job.promptId());
    data.put("node_id", nodeId);
    data.put("node_type", job.prompt().path(nodeId).path("class_type").asText());
    data.set("executed", json.valueToTree(executed));
    ArrayNode entryMessages = json.createArrayNode();
    messages.forEach(entryMessages::add);
    entryMessages.add(json.createArrayNode().add("execution_interrupted").add(data));
    writeHistory(job, "error", false, entryMessages, outputs);
    sendTo(job, message("execution_interrupted", data));
  }

  private void failed(Job job, String nodeId, String nodeType, String exceptionType, String exceptionMessage,
      List<String> executed, List<ArrayNode> messages, ObjectNode outputs, ObjectNode currentInputs) {
    ObjectNode data = data(job.promptId());
    data.put("node_id", nodeId);
    data.put("node_type", nodeType);
    data.set("executed", json.valueToTree(executed));
    data.put("exception_message", exceptionMessage);
    data.put("exception_type", exceptionType);
    ArrayNode traceback = data.putArray("traceback");
    traceback.add("  File \"/ComfyUI/execution.py\", line 496, in execute\n    output_data, output_ui, has_subgraph = get_output_data(...)\n");
    traceback.add("  File \"/ComfyUI/nodes.py\", in " + nodeType + "\n");
    data.set("current_inputs", currentInputs);
    data.set("current_outputs", json.valueToTree(executed));
    ArrayNode entryMessages = json.createArrayNode();
    messages.forEach(entryMessages::add);
    entryMessages.add(json.createArrayNode().add("execution_error").add(data));
    writeHistory(job, "error", false, entryMessages, outputs);
    sendTo(job, message("execution_error", data));
  }

  private void writeHistory(Job job, String statusStr, boolean completed, ArrayNode statusMessages, ObjectNode outputs) {
    ObjectNode entry = json.createObjectNode();
    ArrayNode prompt = entry.putArray("prompt");
    prompt.add(job.number() == Math.rint(job.number()) ? json.getNodeFactory().numberNode((long) job.number()) : json.getNodeFactory().numberNode(job.number()));
    prompt.add(job.promptId());
    prompt.add(job.prompt());
    prompt.add(job.extraData());
    prompt.add(json.valueToTree(job.outputs()));
    entry.set("outputs", outputs);
    ObjectNode status = entry.putObject("status");
    status.put("status_str", statusStr);
    status.put("completed", completed);
    status.set("messages", statusMessages);
    ObjectNode meta = entry.putObject("meta");
    outputs.fieldNames().forEachRemaining(id -> meta.putObject(id).put("node_id", id).put("display_node", id)
        .putNull("parent_node").put("real_node_id", id));
    synchronized (lock) {
      history.put(job.promptId(), entry);
      if (history.size() > MAX_HISTORY) {
        history.remove(history.keySet().iterator().next());
      }
    }
  }

  /** The nodes the job's outputs need, dependencies first. */
  private List<String> executionOrder(Job job) {
    List<String> order = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String output : job.outputs()) {
      visit(job.prompt(), output, seen, order);
    }
    return order;
  }

  private void visit(ObjectNode prompt, String id, java.util.Set<String> seen, List<String> order) {
    if (!seen.add(id)) {
      return;
    }
    prompt.path(id).path("inputs").forEach(value -> {
      if (value.isArray() && value.size() == 2 && prompt.has(value.get(0).asText())) {
        visit(prompt, value.get(0).asText(), seen, order);
      }
    });
    order.add(id);
  }

  /** A node's cache key: its class and literal inputs, and its inputs' keys for links. */
  private Map<String, String> cacheKeys(ObjectNode prompt, List<String> order) {
    Map<String, String> keys = new HashMap<>();
    for (String id : order) {
      JsonNode node = prompt.get(id);
      StringBuilder key = new StringBuilder(node.path("class_type").asText()).append('{');
      List<String> names = new ArrayList<>();
      node.path("inputs").fieldNames().forEachRemaining(names::add);
      names.sort(null);
      for (String name : names) {
        JsonNode value = node.path("inputs").get(name);
        key.append(name).append('=');
        if (value.isArray() && value.size() == 2 && keys.containsKey(value.get(0).asText())) {
          key.append('<').append(keys.get(value.get(0).asText())).append('#').append(value.get(1).asInt()).append('>');
        } else {
          key.append(value);
        }
        key.append(';');
      }
      if (node.path("class_type").asText().equals("LoadImage")) {
        Path file = inputDir.resolve(node.path("inputs").path("image").asText()).normalize();
        try {
          key.append("mtime=").append(Files.getLastModifiedTime(file).toMillis()).append(";size=").append(Files.size(file));
        } catch (IOException e) {
          key.append("missing");
        }
      }
      if (node.path("class_type").asText().equals("SaveImageWebsocket")) {
        key.append("never-cached:").append(UUID.randomUUID());
      }
      keys.put(id, key.append('}').toString());
    }
    return keys;
  }

  private Map<String, Object> resolveInputs(JsonNode inputs, NodeLibrary.Spec spec, Map<String, NodeOutcome> results) {
    Map<String, Object> values = new HashMap<>();
    for (NodeLibrary.Input input : spec.required()) {
      JsonNode value = inputs.get(input.name());
      if (value.isArray()) {
        NodeOutcome source = results.get(value.get(0).asText());
        values.put(input.name(), source.outputs().get(value.get(1).asInt()));
      } else {
        values.put(input.name(), switch (input.type()) {
          case "INT" -> (long) (value.isNumber() ? value.asDouble() : Double.parseDouble(value.asText().trim()));
          case "FLOAT" -> value.isNumber() ? value.asDouble() : Double.parseDouble(value.asText().trim());
          case "BOOLEAN" -> value.asBoolean();
          default -> value.asText();
        });
      }
    }
    return values;
  }

  private ObjectNode inputsSummary(JsonNode node) {
    ObjectNode summary = json.createObjectNode();
    node.path("inputs").fields().forEachRemaining(e -> {
      if (!e.getValue().isArray()) {
        summary.putArray(e.getKey()).add(e.getValue());
      }
    });
    return summary;
  }

  private void sendExecuted(Job job, String id, Map<String, Object> ui) {
    ObjectNode data = json.createObjectNode();
    data.put("node", id).put("display_node", id);
    data.set("output", json.valueToTree(ui));
    data.put("prompt_id", job.promptId());
    sendTo(job, message("executed", data));
  }

  private void sendProgressState(Job job, String id, String state, int value, int max) {
    ObjectNode data = json.createObjectNode();
    data.put("prompt_id", job.promptId());
    ObjectNode node = data.putObject("nodes").putObject(id);
    node.put("value", value).put("max", max).put("state", state).put("node_id", id).put("prompt_id", job.promptId())
        .put("display_node_id", id).putNull("parent_node_id");
    node.put("real_node_id", id);
    sendTo(job, message("progress_state", data));
  }

  private void sendEvent(Job job, String type, ObjectNode data, List<ArrayNode> historyMessages) {
    historyMessages.add(json.createArrayNode().add(type).add(data));
    sendTo(job, message(type, data));
  }

  private ObjectNode data(String promptId) {
    ObjectNode data = json.createObjectNode();
    data.put("prompt_id", promptId);
    data.put("timestamp", System.currentTimeMillis());
    return data;
  }

  private ObjectNode message(String type, ObjectNode data) {
    ObjectNode message = json.createObjectNode();
    message.put("type", type);
    message.set("data", data);
    return message;
  }

  private Session sessionOf(Job job) {
    String clientId = job.extraData().path("client_id").asText(null);
    return clientId == null ? null : sessions.get(clientId);
  }

  /**
   * Per-prompt events go only to the socket of the prompt's client_id. A prompt without one gets
   * only progress, progress_state and execution_interrupted, broadcast to every socket.
   */
  private void sendTo(Job job, ObjectNode message) {
    String clientId = job.extraData().path("client_id").asText(null);
    if (clientId != null) {
      Session session = sessions.get(clientId);
      if (session != null) {
        session.send(text(message));
      }
      return;
    }
    String type = message.path("type").asText();
    if (type.equals("progress") || type.equals("progress_state") || type.equals("execution_interrupted")) {
      sessions.values().forEach(s -> s.send(text(message)));
    }
  }

  private void broadcastStatus() {
    ObjectNode status = statusMessage();
    sessions.values().forEach(s -> s.send(text(status)));
  }

  private ObjectNode statusMessage() {
    ObjectNode message = json.createObjectNode();
    message.put("type", "status");
    message.putObject("data").set("status", queueInfo());
    return message;
  }

  private ObjectNode queueInfo() {
    ObjectNode info = json.createObjectNode();
    synchronized (lock) {
      info.putObject("exec_info").put("queue_remaining", pending.size() + (running == null ? 0 : 1));
    }
    return info;
  }

  private ObjectNode queueSnapshot() {
    ObjectNode queue = json.createObjectNode();
    ArrayNode runningList = queue.putArray("queue_running");
    ArrayNode pendingList = queue.putArray("queue_pending");
    synchronized (lock) {
      if (running != null) {
        runningList.add(queueItem(running));
      }
      pending.stream().sorted(Comparator.comparingDouble(Job::number)).forEach(job -> pendingList.add(queueItem(job)));
    }
    return queue;
  }

  private ArrayNode queueItem(Job job) {
    ArrayNode item = json.createArrayNode();
    item.add(job.number() == Math.rint(job.number()) ? json.getNodeFactory().numberNode((long) job.number()) : json.getNodeFactory().numberNode(job.number()));
    item.add(job.promptId());
    item.add(job.prompt());
    item.add(job.extraData());
    item.add(json.valueToTree(job.outputs()));
    return item;
  }

  private ObjectNode systemStats() {
    ObjectNode stats = json.createObjectNode();
    Runtime runtime = Runtime.getRuntime();
    ObjectNode system = stats.putObject("system");
    system.put("os", System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux") ? "posix" : "nt");
    system.put("ram_total", runtime.maxMemory());
    system.put("ram_free", runtime.maxMemory() - runtime.totalMemory() + runtime.freeMemory());
    system.put("comfyui_version", "0.25.0");
    system.put("python_version", "3.12.3 (tempera testkit " + System.getProperty("java.version") + ")");
    system.put("pytorch_version", "2.7.0+cpu");
    system.put("embedded_python", false);
    system.putArray("argv").add("main.py").add("--cpu");
    ObjectNode device = stats.putArray("devices").addObject();
    device.put("name", "cpu").put("type", "cpu").put("index", (String) null);
    device.put("vram_total", runtime.maxMemory()).put("vram_free", runtime.freeMemory());
    device.put("torch_vram_total", runtime.maxMemory()).put("torch_vram_free", runtime.freeMemory());
    return stats;
  }

  private ObjectNode objectInfo(String only) {
    ObjectNode info = json.createObjectNode();
    for (NodeLibrary.Spec spec : library.all().values()) {
      if (only != null && !only.equals(spec.classType())) {
        continue;
      }
      ObjectNode node = info.putObject(spec.classType());
      ObjectNode input = node.putObject("input");
      ObjectNode required = input.putObject("required");
      ArrayNode inputOrder = node.putObject("input_order").putArray("required");
      for (NodeLibrary.Input in : spec.required()) {
        ArrayNode entry = required.putArray(in.name());
        if (in.type().equals("COMBO")) {
          entry.add(spec.classType().equals("LoadImage") ? json.valueToTree(inputFiles()) : json.valueToTree(in.options()));
        } else {
          entry.add(in.type());
        }
        ObjectNode config = entry.addObject();
        if (in.defaultValue() != null) config.set("default", json.valueToTree(in.defaultValue()));
        if (in.min() != null) config.set("min", in.type().equals("INT") ? json.valueToTree(in.min().longValue()) : json.valueToTree(in.min()));
        if (in.max() != null) config.set("max", in.type().equals("INT") ? json.valueToTree(in.max().longValue()) : json.valueToTree(in.max()));
        inputOrder.add(in.name());
      }
      input.putObject("optional");
      input.putObject("hidden");
      node.set("output", json.valueToTree(spec.outputTypes()));
      node.set("output_is_list", json.valueToTree(spec.outputTypes().stream().map(t -> false).toList()));
      node.set("output_name", json.valueToTree(spec.outputNames()));
      node.put("name", spec.classType());
      node.put("display_name", spec.displayName());
      node.put("description", "");
      node.put("python_module", spec.classType().startsWith("Tempera") ? "custom_nodes.tempera_testkit" : "nodes");
      node.put("category", spec.category());
      node.put("output_node", spec.outputNode());
    }
    return info;
  }

  private List<String> inputFiles() {
    try (var files = Files.list(inputDir)) {
      return files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private ObjectNode features() {
    ObjectNode features = json.createObjectNode();
    features.put("supports_preview_metadata", true);
    features.put("max_upload_size", MAX_UPLOAD);
    return features;
  }

  private ObjectNode errorReply(String type, String message, String details, ObjectNode nodeErrors) {
    ObjectNode reply = json.createObjectNode();
    ObjectNode error = reply.putObject("error");
    error.put("type", type).put("message", message).put("details", details);
    error.putObject("extra_info");
    reply.set("node_errors", nodeErrors);
    return reply;
  }

  private Publisher<Void> json(HttpServerResponse res, int status, JsonNode body) {
    return res.status(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .sendString(Mono.just(body.toString()));
  }

  private TextWebSocketFrame text(JsonNode message) {
    return new TextWebSocketFrame(message.toString());
  }

  private Publisher<Void> body(HttpServerRequest req, BiFunction<String, HttpServerRequest, Publisher<Void>> handler) {
    return req.receive().aggregate().asString(StandardCharsets.UTF_8).defaultIfEmpty("")
        .flatMap(text -> Mono.from(handler.apply(text, req)));
  }

  private JsonNode readOrEmpty(String text) {
    try {
      JsonNode node = text == null || text.isBlank() ? null : json.readTree(text);
      return node == null ? json.createObjectNode() : node;
    } catch (IOException e) {
      return json.createObjectNode();
    }
  }

  private static String first(Map<String, List<String>> query, String name, String fallback) {
    List<String> values = query.get(name);
    return values == null || values.isEmpty() ? fallback : values.get(0);
  }

}
