package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.fixtures.TestImages;
import io.tempera.testkit.gradio.GradioApp;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A function of each backend kind through {@code POST /api/generations} on the embedded system:
 * gradio (a real Gradio running testkit/gradio/tempera_app.py, given as tempera.worker.gradio-urls,
 * with an image input and output), script (the shipped gradient) and comfyui (the shipped invert).
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded", "tempera.embedded.comfyui-port=0"})
class EmbeddedBackendsEndToEndTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-e2e-backends",
          EmbeddedTestRoot.activitiesTemplate("gradio-paint"),
          EmbeddedTestRoot.activitiesTemplate("gradio-invert"),
          EmbeddedTestRoot.activitiesTemplate("gradio-fail"));
  static GradioApp gradio;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;

  @BeforeAll
  static void startGradio() throws IOException {
    gradio =
        GradioApp.start(
            GradioApp.pythonForTest(5),
            GradioApp.script("tempera_app.py"),
            Map.of(),
            Duration.ofSeconds(180));
  }

  @AfterAll
  static void stopGradio() {
    if (gradio != null) {
      gradio.close();
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
    registry.add("tempera.worker.gradio-urls", () -> gradio.baseUrl().toString());
  }

  @Test
  void aGradioFunctionWithAnImageInAndOutRunsThroughTheApi() throws Exception {
    String path = upload("project-gradio");
    JsonNode view = generate("gradio-invert", "project-gradio", Map.of("picture", path));

    assertThat(view.get("status").asText()).as("%s", view).isEqualTo("SUCCEEDED");
    JsonNode output = view.get("outputs").get(0);
    assertThat(output.get("contentType").asText()).isEqualTo("image/png");
    HttpResponse<byte[]> png =
        http.send(
            HttpRequest.newBuilder(uri(output.get("url").asText())).build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertThat(png.statusCode()).isEqualTo(200);
    assertThat(
            TestImages.isInverted(
                TestImages.sample(), ImageIO.read(new ByteArrayInputStream(png.body()))))
        .isTrue();
  }

  @Test
  void aGradioFunctionWithProgressRunsAndItsListedWithItsParameters() throws Exception {
    JsonNode view =
        generate("gradio-paint", "project-gradio", Map.of("prompt", "a blue whale", "size", 16));
    assertThat(view.get("status").asText()).as("%s", view).isEqualTo("SUCCEEDED");
    assertThat(view.get("outputs").get(0).get("width").asInt()).isEqualTo(16);

    JsonNode functions = JSON.readTree(get("/api/functions").body());
    assertThat(functions.toString()).contains("gradio-paint").contains("gradio-invert");
  }

  @Test
  void aGradioErrorReachesTheApiAsATypedFailure() throws Exception {
    JsonNode view = generate("gradio-fail", "project-gradio", Map.of("prompt", "a dragon"));
    assertThat(view.get("status").asText()).isEqualTo("FAILED");
    assertThat(view.toString())
        .contains("EXECUTION_ERROR")
        .contains("The model refused the prompt: a dragon");
  }

  @Test
  void aScriptFunctionRunsThroughTheApi() throws Exception {
    JsonNode view =
        generate("gradient", "project-script", Map.of("top", 0xff0000, "bottom", 0x0000ff));
    assertThat(view.get("status").asText()).as("%s", view).isEqualTo("SUCCEEDED");
    assertThat(view.get("outputs").get(0).get("contentType").asText()).isEqualTo("image/png");
  }

  @Test
  void aComfyUiFunctionRunsThroughTheApi() throws Exception {
    String path = upload("project-comfy");
    JsonNode view = generate("invert", "project-comfy", Map.of("image", path));
    assertThat(view.get("status").asText()).as("%s", view).isEqualTo("SUCCEEDED");
  }

  // --- helpers ---

  private JsonNode generate(String function, String project, Map<String, Object> parameters)
      throws Exception {
    Map<String, Object> body =
        Map.of(
            "functionId",
            function,
            "tier",
            "draft",
            "projectId",
            project,
            "nodeId",
            "node-1",
            "requestId",
            "e2e-" + UUID.randomUUID(),
            "parameters",
            parameters);
    HttpResponse<String> started = post("/api/generations", body);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    return await("generation " + id + " finished")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> JSON.readTree(get("/api/generations/" + id).body()),
            view -> {
              String status = view.path("status").asText();
              return status.equals("SUCCEEDED")
                  || status.equals("FAILED")
                  || status.equals("CANCELLED");
            });
  }

  private String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        ROOT, http, uri("/api/projects/" + project + "/uploads"), "application/octet-stream");
  }

  private HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
