package io.tempera.embedded;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The Temporal CLI's dev server ({@code TEMPERA_TEMPORAL_CLI}, as {@code ./tempera test} installs
 * it) on a database file, with the Tempera search attributes: what {@code ./tempera run} starts.
 * Stopping it and starting another on the same file is a restart of the durable default.
 */
final class TemporalDevServer implements AutoCloseable {

  private final Process process;
  private final int port;

  private TemporalDevServer(Process process, int port) {
    this.process = process;
    this.port = port;
  }

  /**
   * The Temporal CLI, or the test skipped with why (a failure in CI, where {@code ./tempera test}
   * installs it).
   */
  static String cli() {
    String cli = System.getenv("TEMPERA_TEMPORAL_CLI");
    if (cli != null && !cli.isBlank() && Files.isExecutable(Path.of(cli))) {
      return cli;
    }
    String why =
        "No Temporal CLI: set TEMPERA_TEMPORAL_CLI to scripts/ensure-temporal.sh's output (./tempera"
            + " test does)";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(why);
    }
    Assumptions.abort(why);
    return null;
  }

  /** Starts a dev server on {@code database} (made when missing) and waits until it listens. */
  static TemporalDevServer start(String cli, Path database, Path log) throws IOException {
    int port = freePort();
    List<String> command =
        new ArrayList<>(
            List.of(
                cli,
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
                "--db-filename",
                database.toString(),
                "--log-level",
                "warn",
                "--dynamic-config-value",
                "history.transferProcessorMaxPollRPS=10000",
                // task-queue priority and fairness, as ./tempera run starts it
                "--dynamic-config-value",
                "matching.useNewMatcher=true",
                "--dynamic-config-value",
                "matching.enableFairness=true",
                "--dynamic-config-value",
                "matching.numTaskqueueReadPartitions=1",
                "--dynamic-config-value",
                "matching.numTaskqueueWritePartitions=1"));
    for (String name :
        List.of(
            "TemperaFunction", "TemperaProject", "TemperaNode", "TemperaTier", "TemperaStatus")) {
      command.addAll(List.of("--search-attribute", name + "=Keyword"));
    }
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "the Temporal dev server exited with " + process.exitValue() + " (log: " + log + ")");
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
        return new TemporalDevServer(process, port);
      } catch (IOException notYet) {
        sleep();
      }
    }
    process.destroyForcibly();
    throw new IllegalStateException("the Temporal dev server did not listen within 60 s");
  }

  /** Where the embedded system reaches it ({@code spring.temporal.connection.target}). */
  String target() {
    return "127.0.0.1:" + port;
  }

  Optional<Integer> exitValue() {
    return process.isAlive() ? Optional.empty() : Optional.of(process.exitValue());
  }

  /** Stops it as Ctrl-C does, so its database is closed cleanly. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  private static void sleep() {
    try {
      Thread.sleep(200);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
