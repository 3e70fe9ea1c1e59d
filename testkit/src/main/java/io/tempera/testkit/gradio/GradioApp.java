package io.tempera.testkit.gradio;

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
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Gradio app from {@code testkit/gradio/} running as its own Python process on a free port
 * (no share link, no analytics, its own temp folder), ready once {@code GET /config} answers. The
 * Python comes from {@code TEMPERA_GRADIO_PYTHON} (set by {@code ./tempera test} through {@code
 * scripts/ensure-gradio.sh}) or the venv that script leaves in the tools cache ({@code
 * ~/.cache/tempera/tools/}, or {@code $TEMPERA_CACHE_DIR/tools}).
 */
public final class GradioApp implements AutoCloseable {

  private final Process process;
  private final int port;
  private final Path log;
  private final Path temp;

  private GradioApp(Process process, int port, Path log, Path temp) {
    this.process = process;
    this.port = port;
    this.log = log;
    this.temp = temp;
  }

  /** Whether the tests run in CI, where a missing Gradio is a failure rather than a skip. */
  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** Where scripts/ensure-*.sh install the tools the tests start (outside the clone). */
  static Path toolsCache() {
    String cache = System.getenv("TEMPERA_CACHE_DIR");
    if (cache == null || cache.isBlank()) {
      String xdg = System.getenv("XDG_CACHE_HOME");
      Path base =
          xdg == null || xdg.isBlank()
              ? Path.of(System.getProperty("user.home"), ".cache")
              : Path.of(xdg);
      return base.resolve("tempera/tools");
    }
    return Path.of(cache, "tools");
  }

  /** A Python with gradio installed, if there is one. */
  public static Optional<Path> findPython() {
    String configured = System.getenv("TEMPERA_GRADIO_PYTHON");
    if (configured != null && !configured.isBlank() && Files.isExecutable(Path.of(configured))) {
      return Optional.of(Path.of(configured));
    }
    Path tools = toolsCache();
    if (Files.isDirectory(tools)) {
      try (Stream<Path> venvs = Files.list(tools)) {
        return venvs
            .filter(p -> p.getFileName().toString().startsWith("gradio-"))
            .sorted(Comparator.reverseOrder())
            .map(p -> p.resolve("bin/python"))
            .filter(Files::isExecutable)
            .findFirst();
      } catch (IOException e) {
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  /** The app script {@code testkit/gradio/<name>}, found from the working folder or a parent. */
  public static Path script(String name) {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path file = dir.resolve("testkit/gradio").resolve(name);
      if (Files.isRegularFile(file)) {
        return file;
      }
    }
    throw new IllegalStateException(
        "testkit/gradio/" + name + " not found above " + Path.of("").toAbsolutePath());
  }

  /** Starts {@code script} with {@code python} and waits until it serves /config. */
  public static GradioApp start(
      Path python, Path script, Map<String, String> env, Duration startTimeout) throws IOException {
    int port = freePort();
    Path temp = Files.createTempDirectory("tempera-gradio-");
    Path log = temp.resolve("app.log");
    ProcessBuilder builder =
        new ProcessBuilder(python.toString(), script.toString())
            .directory(temp.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    Map<String, String> environment = builder.environment();
    environment.put("GRADIO_SERVER_PORT", Integer.toString(port));
    environment.put("GRADIO_SERVER_NAME", "127.0.0.1");
    environment.put("GRADIO_ANALYTICS_ENABLED", "False");
    environment.put("GRADIO_TEMP_DIR", temp.resolve("files").toString());
    environment.put("HF_HUB_OFFLINE", "1");
    environment.put("PYTHONUNBUFFERED", "1");
    environment.putAll(env);
    GradioApp app = new GradioApp(builder.start(), port, log, temp);
    try {
      app.awaitReady(startTimeout);
    } catch (IOException | RuntimeException e) {
      app.close();
      throw e;
    }
    return app;
  }

  private void awaitReady(Duration timeout) throws IOException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "the Gradio app exited (" + process.exitValue() + "):\n" + logTail());
        }
        try {
          HttpResponse<Void> r =
              http.send(
                  HttpRequest.newBuilder(baseUrl().resolve("/config"))
                      .timeout(Duration.ofSeconds(2))
                      .GET()
                      .build(),
                  HttpResponse.BodyHandlers.discarding());
          if (r.statusCode() == 200 || r.statusCode() == 401) {
            return;
          }
        } catch (IOException notYet) {
          // still starting
        }
        Thread.sleep(250);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while the Gradio app started", e);
    } finally {
      http.close();
    }
    throw new IllegalStateException(
        "the Gradio app did not serve /config within " + timeout + ":\n" + logTail());
  }

  public URI baseUrl() {
    return URI.create("http://127.0.0.1:" + port);
  }

  public int port() {
    return port;
  }

  /** The end of what the app printed. */
  public String logTail() {
    try {
      String text = Files.readString(log, StandardCharsets.UTF_8);
      return text.length() <= 4000 ? text : text.substring(text.length() - 4000);
    } catch (IOException e) {
      return "(no log)";
    }
  }

  @Override
  public void close() {
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
    try (Stream<Path> walk = Files.walk(temp)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    }
  }
}
