package io.tempera.testkit.gradio;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every Gradio major version scripts/ensure-gradio.sh installs (4.44.1, 5.50.0, 6.x) starts the
 * testkit's apps, tempera_app.py and kinds_app.py, and serves them: /config names every endpoint,
 * and testkit/gradio/check_kinds.py, run with that version's own gradio_client, gets the expected
 * answer from each of kinds_app.py's. The redeployed kinds_app.py (TEMPERA_APP_REVISION=2) changes
 * /caption's parameters, and its warmed-up queue (TEMPERA_QUEUE_WARMUP=1) sends estimates. Without
 * a version: fails in CI, skips elsewhere.
 */
class GradioAppsOnEveryVersionTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  static final Duration START = Duration.ofSeconds(180);

  static final List<String> TEMPERA_APP =
      List.of("generate", "invert", "stream", "fail", "crash", "slow", "slow_stats");
  static final List<String> KINDS_APP =
      List.of(
          "caption",
          "count",
          "describe",
          "classify",
          "highlight",
          "maybe",
          "gallery_caption",
          "files",
          "webp",
          "audio",
          "stream_text",
          "stream_image",
          "warn",
          "refuse",
          "nothing",
          "slow_text");

  @ParameterizedTest(name = "Gradio {0}.x")
  @ValueSource(ints = {4, 5, 6})
  void temperaAppAndKindsAppStartAndAnswerEveryEndpoint(int major) throws Exception {
    Path python = python(major);
    CompletableFuture<GradioApp> temperaStart =
        CompletableFuture.supplyAsync(() -> start(python, "tempera_app.py", Map.of()));
    GradioApp kinds = null;
    GradioApp tempera = null;
    try {
      kinds = start(python, "kinds_app.py", Map.of());
      tempera = temperaStart.join();

      JsonNode temperaConfig = config(tempera);
      assertServes(temperaConfig, major);
      assertThat(apiNames(temperaConfig)).containsAll(TEMPERA_APP);
      JsonNode kindsConfig = config(kinds);
      assertServes(kindsConfig, major);
      assertThat(apiNames(kindsConfig)).containsAll(KINDS_APP);

      String checked = checkKinds(python, kinds);
      assertThat(checked)
          .as("check_kinds.py on Gradio %s.x", major)
          .contains("gradio " + kindsConfig.path("version").asText())
          .contains("all endpoints answered as expected");
    } finally {
      if (tempera == null) {
        tempera = temperaStart.exceptionally(e -> null).join();
      }
      close(kinds);
      close(tempera);
    }
  }

  @ParameterizedTest(name = "Gradio {0}.x")
  @ValueSource(ints = {4, 5, 6})
  void theRedeployedKindsAppHasAnotherCaptionAndItsWarmedQueueEstimates(int major)
      throws Exception {
    Path python = python(major);
    try (GradioApp kinds =
        start(
            python,
            "kinds_app.py",
            Map.of("TEMPERA_APP_REVISION", "2", "TEMPERA_QUEUE_WARMUP", "1"))) {
      JsonNode config = config(kinds);
      assertServes(config, major);
      String prefix = config.path("api_prefix").asText("");
      JsonNode caption = get(kinds.baseUrl().resolve(prefix + "/info")).path("named_endpoints");
      assertThat(caption.path("/caption").path("parameters").findValuesAsText("parameter_name"))
          .as("the redeployed /caption's parameters")
          .containsExactly("subject", "style");
      assertThat(checkKinds(python, kinds, "--revision", "2"))
          .contains("all endpoints answered as expected");

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!kinds.logTail().contains("[tempera] queue warmed up")) {
        assertThat(System.nanoTime())
            .as("warm-up done; log: %s", kinds.logTail())
            .isLessThan(deadline);
        Thread.sleep(200);
      }
      List<JsonNode> messages = queue(kinds, config, "slow_text", "[0.2]");
      assertThat(messages)
          .filteredOn(m -> m.path("msg").asText().equals("estimation"))
          .isNotEmpty()
          .allSatisfy(m -> assertThat(m.path("rank_eta").isNumber()).as("%s", m).isTrue());
      assertThat(messages)
          .filteredOn(m -> m.path("msg").asText().equals("process_starts"))
          .singleElement()
          .satisfies(m -> assertThat(m.path("eta").isNumber()).as("%s", m).isTrue());
      assertThat(messages.get(messages.size() - 1).path("output").path("data").get(0).asText())
          .isEqualTo("slept 0.2 s");
    }
  }

  static Path python(int major) {
    return GradioApp.pythonForTest(major);
  }

  static GradioApp start(Path python, String script, Map<String, String> env) {
    try {
      return GradioApp.start(python, GradioApp.script(script), env, START);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void close(GradioApp app) {
    if (app != null) {
      app.close();
    }
  }

  /** /config is served unprefixed on every version; 4.x has no api_prefix. */
  static void assertServes(JsonNode config, int major) {
    assertThat(config.path("version").asText()).startsWith(major + ".");
    assertThat(config.path("protocol").asText()).isEqualTo("sse_v3");
    assertThat(config.path("api_prefix").asText("")).isEqualTo(major == 4 ? "" : "/gradio_api");
  }

  static JsonNode config(GradioApp app) throws Exception {
    return get(app.baseUrl().resolve("/config"));
  }

  static JsonNode get(URI uri) throws Exception {
    HttpResponse<String> response =
        HTTP.send(
            HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as("GET %s: %s", uri, response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  static List<String> apiNames(JsonNode config) {
    List<String> names = new ArrayList<>();
    config
        .path("dependencies")
        .forEach(d -> {
          if (d.path("api_name").isTextual()) {
            names.add(d.path("api_name").asText());
          }
        });
    return names;
  }

  /** Joins the queue for {@code apiName} and reads the session's messages to process_completed. */
  static List<JsonNode> queue(GradioApp app, JsonNode config, String apiName, String data)
      throws Exception {
    String prefix = config.path("api_prefix").asText("");
    int fnIndex = -1;
    JsonNode dependencies = config.path("dependencies");
    for (int i = 0; i < dependencies.size(); i++) {
      if (apiName.equals(dependencies.get(i).path("api_name").asText())) {
        fnIndex = dependencies.get(i).path("id").asInt(i);
      }
    }
    assertThat(fnIndex).as("a dependency named %s", apiName).isNotNegative();
    String session = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    String join =
        "{\"data\":"
            + data
            + ",\"fn_index\":"
            + fnIndex
            + ",\"session_hash\":\""
            + session
            + "\",\"event_data\":null,\"trigger_id\":null}";
    HttpResponse<String> joined =
        HTTP.send(
            HttpRequest.newBuilder(app.baseUrl().resolve(prefix + "/queue/join"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(join))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(joined.statusCode()).as("queue/join: %s", joined.body()).isEqualTo(200);
    HttpResponse<Stream<String>> stream =
        HTTP.send(
            HttpRequest.newBuilder(
                    app.baseUrl().resolve(prefix + "/queue/data?session_hash=" + session))
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofLines());
    List<JsonNode> messages = new ArrayList<>();
    try (Stream<String> lines = stream.body()) {
      var it = lines.iterator();
      while (it.hasNext()) {
        String line = it.next();
        if (!line.startsWith("data:")) {
          continue;
        }
        JsonNode message = JSON.readTree(line.substring(5).trim());
        messages.add(message);
        String msg = message.path("msg").asText();
        if (msg.equals("process_completed") || msg.equals("close_stream")) {
          break;
        }
      }
    }
    return messages;
  }

  /** Runs testkit/gradio/check_kinds.py with {@code python} against the app; its output. */
  static String checkKinds(Path python, GradioApp app, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(python.toString());
    command.add(GradioApp.script("check_kinds.py").toString());
    command.add(app.baseUrl().toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("HF_HUB_OFFLINE", "1");
    builder.environment().put("GRADIO_ANALYTICS_ENABLED", "False");
    Process process = builder.start();
    CompletableFuture<String> output =
        CompletableFuture.supplyAsync(() -> {
          try (InputStream in = process.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
    if (!process.waitFor(180, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("check_kinds.py did not finish in 180 s");
    }
    String out = output.get(10, TimeUnit.SECONDS);
    assertThat(process.exitValue())
        .as(
            "check_kinds.py %s exited with %s:%n%s%napp log:%n%s",
            List.of(args), process.exitValue(), out, app.logTail())
        .isZero();
    return out;
  }
}
