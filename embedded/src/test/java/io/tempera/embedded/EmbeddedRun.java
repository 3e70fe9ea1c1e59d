package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The embedded system started as {@code ./tempera run} starts it, on a test root's folders (so a
 * second one on the same root is a restart), on the in-process Temporal server or the one at {@code
 * temporalTarget}; HTTP requests with the root's operator key.
 */
final class EmbeddedRun implements AutoCloseable {

  static final ObjectMapper JSON = new ObjectMapper();

  private final ConfigurableApplicationContext context;
  private final Path root;
  final int port;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private EmbeddedRun(ConfigurableApplicationContext context, Path root) {
    this.context = context;
    this.root = root;
    this.port = Integer.parseInt(context.getEnvironment().getProperty("local.server.port"));
  }

  /** Starts it on {@code root}: on the Temporal server at {@code temporalTarget}, or in process. */
  static EmbeddedRun start(Path root, String temporalTarget) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--server.port=0",
                "--tempera.embedded.comfyui-port=0",
                "--tempera.output-root=" + root.resolve("outputs"),
                "--tempera.templates-dir=" + root.resolve("templates"),
                "--tempera.embedded.comfyui-data=" + root.resolve("comfyui"),
                "--tempera.security.keys-file=" + EmbeddedTestRoot.keysFile(root)));
    if (temporalTarget != null) {
      args.add("--spring.temporal.test-server.enabled=false");
      args.add("--spring.temporal.connection.target=" + temporalTarget);
    }
    ConfigurableApplicationContext context =
        new SpringApplicationBuilder(EmbeddedApplication.class)
            .properties("spring.config.name=tempera-embedded,application")
            .run(args.toArray(String[]::new));
    return new EmbeddedRun(context, root);
  }

  /** One of the running system's beans. */
  <T> T bean(Class<T> type) {
    return context.getBean(type);
  }

  /** The test root it runs on. */
  Path root() {
    return root;
  }

  URI uri(String pathOrUrl) {
    return pathOrUrl.startsWith("http")
        ? URI.create(pathOrUrl)
        : URI.create("http://127.0.0.1:" + port + pathOrUrl);
  }

  HttpResponse<String> send(String method, String path, Object body) throws Exception {
    HttpRequest.Builder request =
        EmbeddedTestRoot.request(root, uri(path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonNode getJson(String path) throws Exception {
    HttpResponse<String> answer = send("GET", path, null);
    assertThat(answer.statusCode()).as("GET " + path + ": " + answer.body()).isEqualTo(200);
    return JSON.readTree(answer.body());
  }

  /** A file by its (signed) URL, without a key. */
  HttpResponse<byte[]> download(String url) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri(url)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** Uploads the sample image to {@code project}; its stored path. */
  String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        root, http, uri("/api/projects/" + project + "/uploads"), "image/png");
  }

  /** Starts {@code function} on the sample image; the generation's id. */
  String start(String project, String node, String function, String image, Map<String, ?> more)
      throws Exception {
    Map<String, Object> parameters = new java.util.HashMap<>(more);
    parameters.put("image", image);
    HttpResponse<String> started =
        send(
            "POST",
            "/api/generations",
            Map.of(
                "functionId",
                function,
                "projectId",
                project,
                "nodeId",
                node,
                "parameters",
                parameters));
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  /** The generation's state once it has ended. */
  JsonNode awaitEnd(String id) {
    JsonNode[] last = new JsonNode[1];
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          HttpResponse<String> answer = send("GET", "/api/generations/" + id, null);
          if (answer.statusCode() != 200) {
            return false;
          }
          last[0] = JSON.readTree(answer.body());
          return List.of("SUCCEEDED", "FAILED", "CANCELLED")
              .contains(last[0].get("status").asText());
        });
    return last[0];
  }

  @Override
  public void close() {
    context.close();
  }
}
