package io.tempera.backend.script;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendMessages;
import io.tempera.backend.BackendProgress;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a function as a local program (the seeds' "custom" backend). The payload names the program:
 * {@code {"command": ["python3", "make.py"], "workingDir": "/abs/template/folder",
 * "timeoutSeconds": 300, "parameters": {...}}}.
 *
 * <p>Protocol: the program gets one JSON object on stdin — {@code {runId, parameters, tier: {name,
 * …the tier's values}, inputs: {parameter: absolute path}, outputDir}} — and stdin is closed. It
 * may print JSON lines on stdout: {@code
 * {"type":"progress","progress":0.4,"step":3,"totalSteps":10,"message":"…"}} and, last, {@code
 * {"type":"result","outputs":["a.png"]}} (paths relative to outputDir; without it every file in
 * outputDir is an output). Other stdout lines are logged. Exit code 0 is success; anything else
 * fails the run, the tail of stderr kept for operators (the failure's details, the log). The
 * timeout and a cancel kill the whole process tree. Parameters never reach a shell: the command is
 * run as an argument vector.
 *
 * <p>A run cannot be re-attached after its worker died (the process died with it): a retried
 * attempt returns the recorded result of a finished run, otherwise starts the program afresh.
 */
public final class ScriptBackend implements Backend {

  public static final String TYPE = "script";
  private static final Logger log = LoggerFactory.getLogger(ScriptBackend.class);
  private static final int STDERR_TAIL = 4096;

  private final Path runsRoot;
  private final ObjectMapper json = new ObjectMapper();

  /**
   * @param runsRoot where each run gets a folder (its outputs, stderr, recorded result)
   */
  public ScriptBackend(Path runsRoot) {
    this.runsRoot = runsRoot.toAbsolutePath().normalize();
  }

  @Override
  public String type() {
    return TYPE;
  }

  @Override
  public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
    ObjectNode payload = job.plan().payload();
    Path runDir = runsRoot.resolve(job.runId());
    Path outputDir = runDir.resolve("outputs");
    Path recorded = runDir.resolve("result.json");
    try {
      if (Files.isRegularFile(recorded)) {
        log.info("script run {} already finished; returning its recorded result", job.runId());
        return new BackendOutcome(
            job.runId(), false, files(runDir, json.readTree(recorded.toFile())), false);
      }
      deleteTree(runDir);
      Files.createDirectories(outputDir);
      List<String> command = new ArrayList<>();
      payload.path("command").forEach(arg -> command.add(arg.asText()));
      if (command.isEmpty()) {
        throw ApplicationFailure.newNonRetryableFailure(
            "The script template names no command", ErrorCode.INVALID_REQUEST.name());
      }
      ObjectNode stdin = json.createObjectNode();
      stdin.put("runId", job.runId());
      stdin.set("parameters", payload.path("parameters"));
      stdin.set("tier", payload.path("tier"));
      ObjectNode inputs = stdin.putObject("inputs");
      for (FileInput input : job.plan().fileInputs()) {
        Path file = Backend.inputFile(projectDir, input);
        inputs.put(input.parameter(), file.toString());
      }
      stdin.put("outputDir", outputDir.toString());

      ProcessBuilder builder =
          new ProcessBuilder(command)
              .directory(Path.of(payload.path("workingDir").asText(".")).toFile())
              .redirectError(runDir.resolve("stderr.log").toFile());
      Process process = builder.start();
      try (OutputStream in = process.getOutputStream()) {
        in.write(json.writeValueAsBytes(stdin));
      } catch (IOException brokenPipe) {
        log.debug("script {} closed its stdin early", job.runId());
      }
      JsonNode[] result = {null};
      Thread reader =
          Thread.ofVirtual()
              .start(() -> readStdout(process.getInputStream(), progress, result, job.runId()));
      long timeoutSeconds =
          Math.max(1, payload.path("timeoutSeconds").asLong(job.plan().timeoutSeconds()));
      boolean finished;
      try {
        finished = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
      } catch (InterruptedException cancelled) {
        killTree(process);
        Thread.currentThread().interrupt();
        return new BackendOutcome(job.runId(), true, List.of(), true);
      }
      if (!finished) {
        killTree(process);
        throw ApplicationFailure.newFailure(
            "The script did not finish within " + timeoutSeconds + " s and was stopped",
            ErrorCode.TIMEOUT.name());
      }
      reader.join(5_000);
      if (process.exitValue() != 0) {
        // its stderr may hold paths and tracebacks: for operators only
        throw BackendMessages.failure(
            "The script failed (exit code " + process.exitValue() + ")",
            ErrorCode.EXECUTION_ERROR,
            true,
            "the script " + command.get(0),
            tail(runDir.resolve("stderr.log")));
      }
      JsonNode outcome = result[0] != null ? result[0] : json.createObjectNode();
      List<BackendFile> files = files(runDir, outcome);
      Files.writeString(recorded, outcome.toString());
      return new BackendOutcome(job.runId(), false, files, true);
    } catch (IOException e) {
      throw BackendMessages.failure(
          "The script could not be run",
          ErrorCode.INTERNAL,
          false,
          "the script of run " + job.runId(),
          e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new BackendOutcome(job.runId(), true, List.of(), true);
    }
  }

  @Override
  public void cancel(BackendJob job) {
    // the run's process belongs to the activity that started it; interrupting that activity kills
    // it
  }

  @Override
  public long download(BackendFile file, Path target) {
    Path source = runsRoot.resolve(file.subfolder()).resolve(file.filename()).normalize();
    // a link the script left is no output: nothing outside its run folder is copied into the
    // project
    if (!source.startsWith(runsRoot)
        || !Files.isRegularFile(source, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      throw ApplicationFailure.newFailure(
          "The script's output " + file.filename() + " is missing",
          ErrorCode.OUTPUT_MISSING.name());
    }
    try {
      Files.createDirectories(target.toAbsolutePath().getParent());
      Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
      return Files.size(target);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void readStdout(
      InputStream stdout, Consumer<BackendProgress> progress, JsonNode[] result, String runId) {
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(stdout, StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        JsonNode message;
        try {
          message = line.startsWith("{") ? json.readTree(line) : null;
        } catch (IOException notJson) {
          message = null;
        }
        if (message == null || !message.has("type")) {
          log.info(
              "script {}: {}", runId, line.length() > 500 ? line.substring(0, 500) + "…" : line);
          continue;
        }
        switch (message.get("type").asText()) {
          case "progress" ->
              progress.accept(
                  new BackendProgress(
                      Math.max(0, Math.min(1, message.path("progress").asDouble(0))),
                      message.has("step") ? message.get("step").asInt() : null,
                      message.has("totalSteps") ? message.get("totalSteps").asInt() : null,
                      null,
                      message
                          .path("message")
                          .asText(
                              message.has("step") && message.has("totalSteps")
                                  ? "Generating step "
                                      + message.get("step").asInt()
                                      + " of "
                                      + message.get("totalSteps").asInt()
                                  : "Generating"),
                      null));
          case "result" -> result[0] = message;
          default -> log.debug("script {}: unknown message type {}", runId, message.get("type"));
        }
      }
    } catch (IOException e) {
      log.debug("script {} stdout closed: {}", runId, e.getMessage());
    }
  }

  /** The run's output files: those its result names, or every file in its output folder. */
  private List<BackendFile> files(Path runDir, JsonNode result) throws IOException {
    Path outputDir = runDir.resolve("outputs");
    String subfolder = runsRoot.relativize(outputDir).toString().replace('\\', '/');
    List<String> names = new ArrayList<>();
    if (result.path("outputs").isArray()) {
      for (JsonNode name : result.get("outputs")) {
        Path file = outputDir.resolve(name.asText()).normalize();
        if (!file.startsWith(outputDir) || !Files.isRegularFile(file)) {
          throw ApplicationFailure.newNonRetryableFailure(
              "The script named an output that it did not write: " + name.asText(),
              ErrorCode.OUTPUT_MISSING.name());
        }
        names.add(outputDir.relativize(file).toString().replace('\\', '/'));
      }
    } else {
      try (Stream<Path> walk = Files.walk(outputDir)) {
        walk.filter(Files::isRegularFile)
            .sorted()
            .forEach(f -> names.add(outputDir.relativize(f).toString().replace('\\', '/')));
      }
    }
    return names.stream()
        .map(n -> new BackendFile("script", "files", n, subfolder, "output", null))
        .toList();
  }

  /** Kills the process and every process it started. */
  static void killTree(Process process) {
    List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
    tree.forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tree.forEach(p -> p.onExit().orTimeout(5, TimeUnit.SECONDS).exceptionally(t -> p).join());
  }

  private static String tail(Path file) throws IOException {
    if (!Files.exists(file)) {
      return "(no error output)";
    }
    byte[] bytes = Files.readAllBytes(file);
    String text =
        new String(
                bytes,
                Math.max(0, bytes.length - STDERR_TAIL),
                Math.min(bytes.length, STDERR_TAIL),
                StandardCharsets.UTF_8)
            .trim();
    return text.isEmpty() ? "(no error output)" : text;
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
