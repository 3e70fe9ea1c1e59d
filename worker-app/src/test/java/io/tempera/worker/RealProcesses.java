package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Real processes for process-level tests: a Temporal dev server, worker and API processes from the
 * packaged jars, each logging to {@code target/<name>-<n>.log}. Closing it kills whatever is left.
 * An API process reads its keys from the keys file beside its output root, where an operator key is
 * made before it starts; the requests sent through {@link #post}, {@link #get}, {@link #getBytes}
 * and {@link #authorized} carry that key.
 */
final class RealProcesses implements AutoCloseable {

  private final List<Process> processes = new ArrayList<>();

  /** The operator key made in each keys file, by file. */
  private final Map<Path, String> keysByFile = new ConcurrentHashMap<>();

  /** The key of the API process on each port. */
  private final Map<Integer, String> keysByPort = new ConcurrentHashMap<>();

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Starts a Temporal dev server (in memory) and returns its frontend port once it listens. */
  int startTemporal() throws IOException, InterruptedException {
    // a real Temporal server (the Temporal CLI's dev server): the Java test server never moves a
    // dead worker's sticky workflow tasks back to the shared queue, a real one does after 5 s.
    // Its three ports are picked free, but another process may take one before it binds it: then
    // it exits ("address already in use") and is started again on other ports.
    for (int attempt = 1; ; attempt++) {
      int port = freePort();
      Process temporal =
          startProcess(
              "temporal",
              List.of(
                  temporalCli(),
                  "server",
                  "start-dev",
                  "--headless",
                  "--ip",
                  "127.0.0.1",
                  "--port",
                  Integer.toString(port),
                  "--http-port",
                  Integer.toString(freePort()),
                  "--metrics-port",
                  Integer.toString(freePort()),
                  "--log-level",
                  "warn",
                  // as ./tempera run --temporal starts it: no 50 ms wait per task hand-off
                  "--dynamic-config-value",
                  "history.transferProcessorMaxPollRPS=10000",
                  "--dynamic-config-value",
                  "matching.useNewMatcher=true",
                  "--dynamic-config-value",
                  "matching.enableFairness=true"),
              Map.of());
      if (awaitPort(port, temporal) || attempt == 3) {
        if (!temporal.isAlive()) {
          throw new AssertionError(
              "the Temporal dev server exited with "
                  + temporal.exitValue()
                  + " three times (see target/temporal-*.log)");
        }
        return port;
      }
    }
  }

  /** A worker host process from the worker app jar. */
  Process startWorker(String name, Map<String, String> env, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("-jar", appJar()));
    command.addAll(List.of(args));
    return startJava(name, command, env);
  }

  /**
   * An API process from the starter-api jar, listening on {@code port}, with an operator key in its
   * keys file ({@code TEMPERA_KEYS_FILE}, else {@code keys.json} beside {@code
   * TEMPERA_OUTPUT_ROOT}) that the requests to {@code port} carry.
   */
  Process startApi(String name, int port, Map<String, String> env, String... args)
      throws IOException {
    List<String> command = new ArrayList<>(List.of("-jar", apiJar()));
    command.addAll(List.of(args));
    Map<String, String> all = new java.util.HashMap<>(env);
    all.put("TEMPERA_PORT", Integer.toString(port));
    Path keysFile = keysFile(env);
    all.put("TEMPERA_KEYS_FILE", keysFile.toString());
    keysByPort.put(port, operatorKey(keysFile));
    return startJava(name, command, all);
  }

  /**
   * The keys file an API process started with {@code env} reads: {@code TEMPERA_KEYS_FILE}, else
   * {@code keys.json} beside the output root.
   */
  static Path keysFile(Map<String, String> env) {
    String file = env.get("TEMPERA_KEYS_FILE");
    if (file != null && !file.isBlank()) {
      return Path.of(file).toAbsolutePath().normalize();
    }
    String outputs = env.get("TEMPERA_OUTPUT_ROOT");
    assertThat(outputs).as("TEMPERA_OUTPUT_ROOT of an API process").isNotBlank();
    return Path.of(outputs).toAbsolutePath().normalize().resolveSibling("keys.json");
  }

  /** An operator key in {@code keysFile}: made there the first time, the same one after. */
  String operatorKey(Path keysFile) {
    return keysByFile.computeIfAbsent(
        keysFile.toAbsolutePath().normalize(),
        file -> new ApiKeyStore(file).create(Caller.Role.OPERATOR, null, "process tests").secret());
  }

  /**
   * Requests to {@code port} (a load balancer in front of API processes) carry the key of {@code
   * apiPort}'s.
   */
  void sameKeyAs(int port, int apiPort) {
    String key = keysByPort.get(apiPort);
    assertThat(key).as("an API process started on port %d by startApi", apiPort).isNotNull();
    keysByPort.put(port, key);
  }

  /** {@code builder} with the key of the API process on {@code port} as a bearer token. */
  HttpRequest.Builder authorized(int port, HttpRequest.Builder builder) {
    String key = keysByPort.get(port);
    assertThat(key).as("an API process started on port %d by startApi", port).isNotNull();
    return builder.header("Authorization", "Bearer " + key);
  }

  /**
   * The id of the generation that {@code projectId} started with {@code requestId}: {@code
   * gen-<first 10 hex digits of the SHA-256 of the projectId>-<requestId>}.
   */
  static String generationId(String projectId, String requestId) {
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(projectId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return "gen-" + java.util.HexFormat.of().formatHex(digest).substring(0, 10) + "-" + requestId;
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  Process startJava(String name, List<String> args, Map<String, String> env) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx512m");
    command.addAll(args);
    return startProcess(name, command, env);
  }

  Process startProcess(String name, List<String> command, Map<String, String> env)
      throws IOException {
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(Path.of("target", name + "-" + System.nanoTime() + ".log").toFile());
    builder.environment().putAll(env);
    Process process = builder.start();
    processes.add(process);
    return process;
  }

  /** The status of the readiness probe of the API process on {@code port} (open without a key). */
  int readiness(int port) {
    try {
      return http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + port + "/actuator/health/readiness"))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  HttpResponse<String> post(int port, String path, String json)
      throws IOException, InterruptedException {
    return http.send(
        authorized(port, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)))
            .timeout(Duration.ofSeconds(30))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
    return http.send(
        authorized(port, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)))
            .timeout(Duration.ofSeconds(30))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<byte[]> getBytes(int port, String path) throws IOException, InterruptedException {
    return http.send(
        authorized(port, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)))
            .timeout(Duration.ofSeconds(30))
            .build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  /**
   * The status of each generation by id from the API process on {@code apiPort} ("MISSING" when it
   * does not give one: unknown, or no worker answers for it right now).
   */
  Map<String, String> statuses(int apiPort, Iterable<String> ids)
      throws IOException, InterruptedException {
    Map<String, String> statuses = new java.util.LinkedHashMap<>();
    for (String id : ids) {
      HttpResponse<String> response = get(apiPort, "/api/generations/" + id);
      statuses.put(
          id,
          response.statusCode() == 200
              ? JSON.readTree(response.body()).path("status").asText()
              : "MISSING");
    }
    return statuses;
  }

  static boolean terminal(String status) {
    return status.equals("SUCCEEDED") || status.equals("FAILED") || status.equals("CANCELLED");
  }

  HttpClient http() {
    return http;
  }

  @Override
  public void close() {
    processes.forEach(Process::destroyForcibly);
  }

  /**
   * The Temporal CLI: TEMPERA_TEMPORAL_CLI, as ./tempera test sets it from
   * scripts/ensure-temporal.sh.
   */
  static String temporalCli() {
    String cli = System.getenv("TEMPERA_TEMPORAL_CLI");
    assertThat(cli)
        .as(
            "TEMPERA_TEMPORAL_CLI: run the tests with ./tempera test, or set it to scripts/ensure-temporal.sh's output")
        .isNotBlank();
    assertThat(Path.of(cli)).isExecutable();
    return cli;
  }

  /**
   * What a worker process of these tests is started with: the Temporal server at {@code
   * temporalPort}, ComfyUI at {@code comfyUrl}, outputs and templates under {@code root}, no HTTP
   * port; {@code more} adds (or overrides) variables, as name, value, name, value.
   */
  static Map<String, String> workerEnvironment(
      int temporalPort, java.net.URI comfyUrl, Path root, String... more) {
    Map<String, String> env = new java.util.HashMap<>();
    env.put("TEMPORAL_ADDRESS", "127.0.0.1:" + temporalPort);
    env.put("TEMPERA_COMFYUI_URL", comfyUrl.toString());
    env.put("TEMPERA_OUTPUT_ROOT", root.resolve("outputs").toString());
    env.put("TEMPERA_TEMPLATES_DIR", root.resolve("templates").toString());
    env.put("TEMPERA_WORKER_PORT", "0");
    for (int i = 0; i + 1 < more.length; i += 2) {
      env.put(more[i], more[i + 1]);
    }
    return Map.copyOf(env);
  }

  /**
   * The shipped templates and the slow-invert test function (30 steps of 100 ms by default, so a
   * test can kill something mid-run) under {@code root/templates}.
   */
  static void copyTemplatesWithSlowInvert(Path root) throws IOException {
    io.tempera.testkit.fixtures.TestFiles.copyShippedTemplates(root.resolve("templates"));
    io.tempera.testkit.fixtures.TestFiles.copyTree(
        Path.of("../activities/src/test/resources/templates/slow-invert"),
        root.resolve("templates/slow-invert"));
  }

  /** gRPC stubs of the Temporal server listening on {@code port}. */
  static io.temporal.serviceclient.WorkflowServiceStubs serviceStubs(int port) {
    return io.temporal.serviceclient.WorkflowServiceStubs.newServiceStubs(
        io.temporal.serviceclient.WorkflowServiceStubsOptions.newBuilder()
            .setTarget("127.0.0.1:" + port)
            .build());
  }

  /** The starter-api app jar beside the worker's (the API, and its keys and ops commands). */
  static String apiJar() {
    Path jar =
        Path.of(appJar())
            .getParent()
            .resolve("../../starter-api/target")
            .normalize()
            .resolve(
                Path.of(appJar()).getFileName().toString().replace("worker-app", "starter-api"));
    assertThat(jar).exists();
    return jar.toString();
  }

  static String appJar() {
    String jar = System.getProperty("tempera.app.jar");
    assertThat(jar).as("tempera.app.jar (set by the failsafe configuration)").isNotNull();
    assertThat(Path.of(jar)).exists();
    return jar;
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  static void awaitPort(int port) {
    if (!awaitPort(port, null)) {
      throw new AssertionError("nothing listens on port " + port);
    }
  }

  /**
   * Whether {@code port} answers before {@code process} (when given) exits; fails when neither
   * happens within 180 s.
   */
  static boolean awaitPort(int port, Process process) {
    return awaitPort(InetAddress.getLoopbackAddress(), port, process);
  }

  /** Fails unless something listens on {@code port} of {@code host} within 180 s. */
  static void awaitPort(String host, int port) throws IOException {
    if (!awaitPort(InetAddress.getByName(host), port, null)) {
      throw new AssertionError("nothing listens on " + host + ":" + port);
    }
  }

  private static boolean awaitPort(InetAddress host, int port, Process process) {
    AtomicBoolean listening = new AtomicBoolean();
    await("something listening on port " + port)
        .atMost(Duration.ofSeconds(180)) // a JVM starting on a busy 2-core machine
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> {
          listening.set(listens(host, port));
          return listening.get() || (process != null && !process.isAlive());
        });
    return listening.get();
  }

  private static boolean listens(InetAddress host, int port) {
    try (Socket ignored = new Socket(host, port)) {
      return true;
    } catch (IOException notYet) {
      return false;
    }
  }
}
