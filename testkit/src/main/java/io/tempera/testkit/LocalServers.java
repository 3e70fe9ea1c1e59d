package io.tempera.testkit;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import java.util.stream.Stream;

/**
 * What the tests' real servers (a Gradio app, a ComfyUI) share as local processes: the tools cache
 * they are installed in, a free port, waiting until one answers over HTTP, the end of its log, and
 * stopping it with its children.
 */
public final class LocalServers {

  private LocalServers() {}

  /** Whether the tests run in CI, where a missing install is a failure rather than a skip. */
  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** The cache outside the clone: {@code $TEMPERA_CACHE_DIR} or {@code ~/.cache/tempera}. */
  public static Path cache() {
    String cache = System.getenv("TEMPERA_CACHE_DIR");
    if (cache != null && !cache.isBlank()) {
      return Path.of(cache);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base =
        xdg == null || xdg.isBlank()
            ? Path.of(System.getProperty("user.home"), ".cache")
            : Path.of(xdg);
    return base.resolve("tempera");
  }

  /** Where scripts/ensure-*.sh install the tools the tests start. */
  public static Path toolsCache() {
    return cache().resolve("tools");
  }

  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }

  /**
   * Waits until {@code probe} answers with a status {@code ready} accepts, while {@code process}
   * runs.
   *
   * @param what the server, for the errors ("the Gradio app", "ComfyUI")
   * @param log its log, whose end the errors carry
   * @throws IllegalStateException when it exits or does not answer in time
   */
  public static void awaitHttp(
      Process process, URI probe, IntPredicate ready, Duration timeout, String what, Path log)
      throws IOException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              what + " exited (" + process.exitValue() + "):\n" + tail(log, 6000));
        }
        try {
          HttpResponse<Void> r =
              http.send(
                  HttpRequest.newBuilder(probe).timeout(Duration.ofSeconds(2)).GET().build(),
                  HttpResponse.BodyHandlers.discarding());
          if (ready.test(r.statusCode())) {
            return;
          }
        } catch (IOException notYet) {
          // still starting
        }
        Thread.sleep(200);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while " + what + " started", e);
    } finally {
      http.close();
    }
    throw new IllegalStateException(
        what
            + " did not answer "
            + probe.getPath()
            + " within "
            + timeout
            + ":\n"
            + tail(log, 6000));
  }

  /** The last {@code chars} characters of a log ("(no log)" when it cannot be read). */
  public static String tail(Path log, int chars) {
    try {
      String text = Files.readString(log, StandardCharsets.UTF_8);
      return text.length() <= chars ? text : text.substring(text.length() - chars);
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** Stops a process politely (5 s), then by force, its children too. */
  public static void stop(Process process) {
    List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tree.forEach(ProcessHandle::destroyForcibly);
  }

  /** Deletes a folder and everything in it, as far as it can. */
  public static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }
}
