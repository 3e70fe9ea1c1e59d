package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real Temporal cluster for the cluster tests, started part by part with {@code
 * scripts/cluster.sh} (PostgreSQL from Debian's packages, the Temporal server and UI built from the
 * Go module proxy), each part its own process so that a test can kill it with SIGKILL and start it
 * again on the same data. Ports are picked free; the state lives in a folder of the test's.
 */
final class TemporalCluster {

  private final RealProcesses processes;
  private final Map<String, String> env;
  private final int temporalPort;
  private final int dbPort;
  private final int uiPort;
  private final int metricsPort;
  private final String bindIp;
  private Process postgres;
  private Process server;
  private int restarts;

  TemporalCluster(RealProcesses processes, Path dir) throws IOException {
    this(processes, dir, "127.0.0.1");
  }

  /** A cluster listening on {@code bindIp} (the server and PostgreSQL; the UI on every address). */
  TemporalCluster(RealProcesses processes, Path dir, String bindIp) throws IOException {
    this.processes = processes;
    this.bindIp = bindIp;
    this.temporalPort = freeRange(110);
    this.dbPort = RealProcesses.freePort();
    this.uiPort = RealProcesses.freePort();
    this.metricsPort = RealProcesses.freePort();
    Map<String, String> all = new HashMap<>();
    all.put("TEMPERA_CLUSTER_DIR", dir.toString());
    all.put("TEMPORAL_PORT", Integer.toString(temporalPort));
    all.put("TEMPORAL_DB_PORT", Integer.toString(dbPort));
    all.put("TEMPORAL_UI_PORT", Integer.toString(uiPort));
    all.put("TEMPORAL_METRICS_PORT", Integer.toString(metricsPort));
    all.put("TEMPERA_TEMPORAL_CLI", RealProcesses.temporalCli());
    all.put("TEMPORAL_BIND_IP", bindIp);
    this.env = Map.copyOf(all);
  }

  /** PostgreSQL, the schema, the server and the namespace with the search attributes. */
  TemporalCluster start() throws IOException, InterruptedException {
    startPostgres();
    oneShot("schema", Duration.ofMinutes(3));
    startServer();
    oneShot("register", Duration.ofMinutes(3));
    return this;
  }

  int port() {
    return temporalPort;
  }

  /** Where clients reach the frontend. */
  String address() {
    return bindIp + ":" + temporalPort;
  }

  int uiPort() {
    return uiPort;
  }

  int metricsPort() {
    return metricsPort;
  }

  /** The Temporal UI server, on {@link #uiPort}. */
  Process startUi() throws IOException {
    Process ui = part("ui");
    RealProcesses.awaitPort(uiPort);
    return ui;
  }

  void startPostgres() throws IOException {
    postgres = part("postgres");
    if (!awaitPort(dbPort, postgres)) {
      throw new AssertionError("PostgreSQL exited with " + postgres.exitValue() + " (see target)");
    }
  }

  void startServer() throws IOException {
    server = part("server");
    if (!awaitPort(temporalPort, server)) {
      throw new AssertionError(
          "the Temporal server exited with " + server.exitValue() + " (see target)");
    }
  }

  /**
   * Kills PostgreSQL with SIGKILL and starts it again on its data. A postmaster killed so leaves
   * its backends to notice and exit; until they have, a new one refuses the data folder, so it is
   * tried again for a while.
   */
  Duration killAndRestartPostgres(Duration down) throws Exception {
    long started = System.nanoTime();
    postgres.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    Thread.sleep(down.toMillis());
    for (int attempt = 1; ; attempt++) {
      Process again = part("postgres");
      if (awaitPort(dbPort, again)) {
        postgres = again;
        return Duration.ofNanos(System.nanoTime() - started);
      }
      if (attempt == 20) {
        throw new AssertionError("PostgreSQL did not start again on its data (see target)");
      }
      Thread.sleep(500);
    }
  }

  /** Kills the Temporal server with SIGKILL (start it again with {@link #startServer}). */
  void killServer() throws InterruptedException {
    server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  /** Kills the Temporal server with SIGKILL and starts it again. */
  Duration killAndRestartServer(Duration down) throws Exception {
    long started = System.nanoTime();
    server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    Thread.sleep(down.toMillis());
    startServer();
    return Duration.ofNanos(System.nanoTime() - started);
  }

  /**
   * The Temporal CLI's answer to {@code args} against this cluster (address and namespace added).
   */
  String cli(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(RealProcesses.temporalCli()));
    command.addAll(List.of(args));
    command.addAll(List.of("--address", address(), "--namespace", "default"));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out =
        new String(
            process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("temporal %s: %s", String.join(" ", args), out).isZero();
    return out;
  }

  /** Whether something listens on {@code port} of the bind address before {@code process} exits. */
  private boolean awaitPort(int port, Process process) {
    java.util.concurrent.atomic.AtomicBoolean listening =
        new java.util.concurrent.atomic.AtomicBoolean();
    org.awaitility.Awaitility.await("something listening on " + bindIp + ":" + port)
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> {
          try (java.net.Socket ignored = new java.net.Socket(bindIp, port)) {
            listening.set(true);
          } catch (IOException notYet) {
            listening.set(false);
          }
          return listening.get() || !process.isAlive();
        });
    return listening.get();
  }

  private Process part(String name) throws IOException {
    restarts++;
    return processes.startProcess("cluster-" + name + "-" + restarts, List.of(script(), name), env);
  }

  private void oneShot(String name, Duration limit) throws IOException, InterruptedException {
    Process process = part(name);
    assertThat(process.waitFor(limit.toSeconds(), TimeUnit.SECONDS))
        .as("scripts/cluster.sh %s finished", name)
        .isTrue();
    assertThat(process.exitValue()).as("scripts/cluster.sh %s (see target)", name).isZero();
  }

  private static String script() {
    Path script = Path.of("../scripts/cluster.sh").toAbsolutePath().normalize();
    assertThat(script).isExecutable();
    return script.toString();
  }

  /**
   * The first of {@code size} free ports in a row (the server's services take port..port+106; the
   * membership ports, +100..+106, are kept in a PostgreSQL smallint: below 32768).
   */
  private static int freeRange(int size) throws IOException {
    for (int attempt = 0; attempt < 200; attempt++) {
      int first = ThreadLocalRandom.current().nextInt(20_000, 32_000);
      if (allFree(first, size)) {
        return first;
      }
    }
    throw new AssertionError("no " + size + " free ports in a row between 20000 and 32000");
  }

  private static boolean allFree(int first, int size) {
    for (int port = first; port < first + size; port++) {
      try (ServerSocket ignored = new ServerSocket(port)) {
        // free
      } catch (IOException taken) {
        return false;
      }
    }
    return true;
  }
}
