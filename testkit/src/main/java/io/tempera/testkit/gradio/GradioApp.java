package io.tempera.testkit.gradio;

import io.tempera.testkit.LocalServers;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A real Gradio app from {@code testkit/gradio/} running as its own Python process on a free port
 * (no share link, no analytics, its own temp folder), ready once {@code GET /config} answers. The
 * Python comes from {@code TEMPERA_GRADIO_PYTHON_<major>} for Gradio 4, 5 and 6 (set by {@code
 * ./tempera test} through {@code scripts/ensure-gradio.sh <major>}) or the venv that script leaves
 * in the tools cache ({@code ~/.cache/tempera/tools/gradio-<version>}, or {@code
 * $TEMPERA_CACHE_DIR/tools}).
 */
public final class GradioApp implements AutoCloseable {

  private volatile Process process;
  private final int port;
  private final Path log;
  private final Path temp;
  private final Path python;
  private final Path script;
  private final Map<String, String> env;

  private GradioApp(
      Process process,
      int port,
      Path log,
      Path temp,
      Path python,
      Path script,
      Map<String, String> env) {
    this.process = process;
    this.port = port;
    this.log = log;
    this.temp = temp;
    this.python = python;
    this.script = script;
    this.env = Map.copyOf(env);
  }

  /** Whether the tests run in CI, where a missing Gradio is a failure rather than a skip. */
  public static boolean ci() {
    return LocalServers.ci();
  }

  /** Where scripts/ensure-*.sh install the tools the tests start (outside the clone). */
  static Path toolsCache() {
    return LocalServers.toolsCache();
  }

  /** The Gradio major versions the tests run on (scripts/ensure-gradio.sh installs each). */
  public static final List<Integer> MAJORS = List.of(4, 5, 6);

  /** A Python with gradio 5.x installed, if there is one: {@code findPython(5)}. */
  public static Optional<Path> findPython() {
    return findPython(5);
  }

  /**
   * A Python with gradio of this major version installed, if there is one: {@code
   * TEMPERA_GRADIO_PYTHON_<major>} (for 5 also {@code TEMPERA_GRADIO_PYTHON}), else the newest venv
   * {@code gradio-<major>.*} that {@code scripts/ensure-gradio.sh <major>} left in the tools cache.
   */
  public static Optional<Path> findPython(int major) {
    List<String> variables =
        major == 5
            ? List.of("TEMPERA_GRADIO_PYTHON_5", "TEMPERA_GRADIO_PYTHON")
            : List.of("TEMPERA_GRADIO_PYTHON_" + major);
    for (String variable : variables) {
      String configured = System.getenv(variable);
      if (configured != null && !configured.isBlank() && Files.isExecutable(Path.of(configured))) {
        return Optional.of(Path.of(configured));
      }
    }
    Path tools = toolsCache();
    if (Files.isDirectory(tools)) {
      String prefix = "gradio-" + major + ".";
      try (Stream<Path> venvs = Files.list(tools)) {
        return venvs
            .filter(p -> p.getFileName().toString().startsWith(prefix))
            .sorted(
                Comparator.comparing(
                        (Path p) -> versionKey(p.getFileName().toString().substring(7)))
                    .reversed())
            .map(p -> p.resolve("bin/python"))
            .filter(Files::isExecutable)
            .findFirst();
      } catch (IOException e) {
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  /** "6.31.0" as a zero-padded key that sorts numerically ("6.9.0" before "6.31.0"). */
  private static String versionKey(String version) {
    StringBuilder key = new StringBuilder();
    for (String part : version.split("\\.", -1)) {
      key.append(String.format("%6s", part.replaceAll("\\D", ""))).append('.');
    }
    return key.toString();
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

  /**
   * A Python with Gradio {@code major}.x for a test: when there is none, the test fails in CI
   * (where {@code ./tempera test} installs every version) and is skipped elsewhere.
   */
  public static Path pythonForTest(int major) {
    Optional<Path> python = findPython(major);
    if (python.isPresent()) {
      return python.get();
    }
    String why =
        "No Python with gradio "
            + major
            + ".x: run scripts/ensure-gradio.sh "
            + major
            + " (./tempera test does) or set TEMPERA_GRADIO_PYTHON_"
            + major;
    if (ci()) {
      throw new IllegalStateException(why);
    }
    throw new org.opentest4j.TestAbortedException(why);
  }

  /** Starts {@code script} with {@code python} and waits until it serves /config. */
  public static GradioApp start(
      Path python, Path script, Map<String, String> env, Duration startTimeout) throws IOException {
    int port = LocalServers.freePort();
    Path temp = Files.createTempDirectory("tempera-gradio-");
    Path log = temp.resolve("app.log");
    GradioApp app =
        new GradioApp(
            launch(python, script, env, port, temp, log), port, log, temp, python, script, env);
    try {
      app.awaitReady(startTimeout);
    } catch (IOException | RuntimeException e) {
      app.close();
      throw e;
    }
    return app;
  }

  private static Process launch(
      Path python, Path script, Map<String, String> env, int port, Path temp, Path log)
      throws IOException {
    ProcessBuilder builder =
        new ProcessBuilder(python.toString(), script.toString())
            .directory(temp.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> environment = builder.environment();
    environment.put("GRADIO_SERVER_PORT", Integer.toString(port));
    environment.put("GRADIO_SERVER_NAME", "127.0.0.1");
    environment.put("GRADIO_ANALYTICS_ENABLED", "False");
    environment.put("GRADIO_TEMP_DIR", temp.resolve("files").toString());
    environment.put("HF_HUB_OFFLINE", "1");
    environment.put("PYTHONUNBUFFERED", "1");
    environment.putAll(env);
    return builder.start();
  }

  /** Kills the app at once (SIGKILL, its children too), as a crash would. */
  public void kill() {
    Process running = process;
    List<ProcessHandle> tree = running.descendants().toList();
    running.destroyForcibly();
    tree.forEach(ProcessHandle::destroyForcibly);
    try {
      running.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Starts the app again on the same port (after {@link #kill()}, or stopping it first), with these
   * environment variables on top of the first start's: a restart, or a redeploy of a new revision.
   */
  public void startAgain(Map<String, String> more, Duration startTimeout) throws IOException {
    if (process.isAlive()) {
      LocalServers.stop(process);
    }
    Map<String, String> all = new java.util.HashMap<>(env);
    all.putAll(more);
    process = launch(python, script, all, port, temp, log);
    awaitReady(startTimeout);
  }

  private void awaitReady(Duration timeout) throws IOException {
    LocalServers.awaitHttp(
        process,
        baseUrl().resolve("/config"),
        status -> status == 200 || status == 401,
        timeout,
        "the Gradio app",
        log);
  }

  public URI baseUrl() {
    return URI.create("http://127.0.0.1:" + port);
  }

  public int port() {
    return port;
  }

  /** The end of what the app printed. */
  public String logTail() {
    return LocalServers.tail(log, 4000);
  }

  @Override
  public void close() {
    LocalServers.stop(process);
    LocalServers.deleteTree(temp);
  }
}
