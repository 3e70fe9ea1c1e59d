package io.tempera.backend.script;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.activities.TestJobs;
import io.tempera.backend.BackendProgress;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The script backend runs real processes (python3) through its stdin/stdout protocol. */
class ScriptBackendTest {

  static final Path SCRIPTS = Path.of("src/test/resources/scripts").toAbsolutePath();
  @TempDir Path tmp;
  final ObjectMapper json = new ObjectMapper();
  final List<BackendProgress> progress = new CopyOnWriteArrayList<>();

  BackendJob job(
      String script, Map<String, Object> parameters, int timeoutSeconds, List<FileInput> inputs) {
    ObjectNode payload = json.createObjectNode();
    payload.putArray("command").add("python3").add(script);
    payload.put("workingDir", SCRIPTS.toString());
    payload.put("timeoutSeconds", timeoutSeconds);
    payload.set("parameters", json.valueToTree(parameters));
    return TestJobs.job(
        "gen-s",
        UUID.randomUUID().toString(),
        TestJobs.plan("script", payload, inputs, timeoutSeconds));
  }

  @Test
  void runsAScriptWithItsParametersReportsProgressAndCollectsItsFiles() throws Exception {
    Path project = tmp.resolve("project");
    Files.createDirectories(project.resolve("uploads"));
    Files.writeString(project.resolve("uploads/in.txt"), "input");
    ScriptBackend backend = new ScriptBackend(tmp.resolve("runs"));
    BackendJob job =
        job(
            "ok.py",
            Map.of("steps", 4, "prompt", "a cat; rm -rf / $(whoami)"),
            30,
            List.of(new FileInput("source", "uploads/in.txt", null, null)));

    BackendOutcome outcome = backend.run(job, project, progress::add);

    assertThat(outcome.interrupted()).isFalse();
    assertThat(outcome.files())
        .extracting(f -> f.filename())
        .containsExactly("echo.json", "sub/note.txt");
    assertThat(progress).extracting(BackendProgress::step).containsExactly(1, 2, 3, 4);
    assertThat(progress.get(3).fraction()).isEqualTo(1.0);
    assertThat(progress.get(0).message()).isEqualTo("Generating step 1 of 4");
    Path copy = tmp.resolve("echo.json");
    backend.download(outcome.files().get(0), copy);
    var echoed = json.readTree(copy.toFile());
    assertThat(echoed.at("/parameters/prompt").asText())
        .as("passed as data, never through a shell")
        .isEqualTo("a cat; rm -rf / $(whoami)");
    assertThat(echoed.at("/inputs/source").asText())
        .isEqualTo(project.resolve("uploads/in.txt").toString());

    BackendOutcome again = backend.run(job, project, progress::add);
    assertThat(again.submitted()).as("a retried attempt returns the recorded result").isFalse();
    assertThat(again.files()).isEqualTo(outcome.files());

    // an output the script replaced by a symbolic link is not copied into the project (#16)
    io.tempera.generation.BackendFile produced = outcome.files().get(0);
    Path source = tmp.resolve("runs").resolve(produced.subfolder()).resolve(produced.filename());
    assertThat(source).exists();
    Files.delete(source);
    Files.createSymbolicLink(source, Files.writeString(tmp.resolve("secret.txt"), "secret"));
    assertThatThrownBy(() -> backend.download(produced, tmp.resolve("linked.json")))
        .isInstanceOf(ApplicationFailure.class)
        .hasMessageContaining("is missing");
    assertThat(tmp.resolve("linked.json")).doesNotExist();
  }

  @Test
  void aNonZeroExitFailsWithTheErrorOutputForOperatorsOnly() {
    ScriptBackend backend = new ScriptBackend(tmp.resolve("runs"));
    assertThatThrownBy(
            () -> backend.run(job("fail.py", Map.of(), 30, List.of()), tmp, progress::add))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("EXECUTION_ERROR");
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .isEqualTo("The script failed (exit code 3)")
                  .doesNotContain("ValueError");
              assertThat(f.getDetails().get(0, String.class))
                  .as("stderr is for operators: the failure's details")
                  .contains("ValueError: the model file is corrupt");
            });
  }

  @Test
  void theTimeoutKillsTheWholeProcessTree() throws Exception {
    ScriptBackend backend = new ScriptBackend(tmp.resolve("runs"));
    Path pidFile = tmp.resolve("child.pid");
    assertThatThrownBy(() ->
            backend.run(
                job("slow.py", Map.of("pidFile", pidFile.toString()), 2, List.of()),
                tmp,
                progress::add))
        .isInstanceOfSatisfying(
            ApplicationFailure.class, f -> assertThat(f.getType()).isEqualTo("TIMEOUT"));
    long child = Long.parseLong(Files.readString(pidFile).trim());
    assertThat(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false))
        .as("no orphan remains")
        .isFalse();
    assertThat(progress).extracting(BackendProgress::message).contains("warming up");
  }

  @Test
  void cancellingTheActivityKillsTheScript() throws Exception {
    ScriptBackend backend = new ScriptBackend(tmp.resolve("runs"));
    Path pidFile = tmp.resolve("child.pid");
    Thread[] runner = new Thread[1];
    CompletableFuture<BackendOutcome> outcome =
        CompletableFuture.supplyAsync(() -> {
          runner[0] = Thread.currentThread();
          return backend.run(
              job("slow.py", Map.of("pidFile", pidFile.toString()), 120, List.of()),
              tmp,
              progress::add);
        });
    // the script reports progress after writing its child's pid: it runs, and the pid is there
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> progress.stream().anyMatch(p -> "warming up".equals(p.message())));
    runner[0].interrupt();
    assertThat(outcome.get(10, TimeUnit.SECONDS).interrupted()).isTrue();
    long child = Long.parseLong(Files.readString(pidFile).trim());
    assertThat(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false)).isFalse();
  }
}
