package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.testkit.fixtures.TestFiles;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The API alone, pointed at a ComfyUI ({@code tempera.node-catalogue.comfyui-urls}): a function
 * whose graph needs a node class that server lacks is not offered, is listed unavailable with the
 * class named, and a start of it is refused with 409 FUNCTION_UNAVAILABLE; the others stay offered.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-api", "spring.temporal.test-server.enabled=true"})
class UnavailableFunctionApiTest {

  @org.springframework.beans.factory.annotation.Autowired io.tempera.security.ApiKeyStore keys;

  static final ObjectMapper JSON = new ObjectMapper();
  static final ComfyUiTestServer COMFY;
  static final Path ROOT;

  static {
    try {
      ROOT = Files.createTempDirectory("tempera-unavailable");
      TestFiles.copyShippedTemplates(ROOT.resolve("templates"));
      TestFiles.copyTree(
          Path.of("src/test/resources/templates/needs-custom-node"),
          ROOT.resolve("templates/needs-custom-node"));
      COMFY = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(ROOT.resolve("comfyui")));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add("tempera.templates-dir", () -> ROOT.resolve("templates").toString());
    registry.add("tempera.output-root", () -> ROOT.resolve("outputs").toString());
    registry.add("tempera.node-catalogue.comfyui-urls", () -> COMFY.baseUrl().toString());
    // as in the embedded application without TEMPERA_GRADIO_URLS: the workers have no Gradio server
    registry.add("tempera.worker.gradio-urls", () -> "");
  }

  @AfterAll
  static void stop() {
    COMFY.close();
  }

  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  HttpResponse<String> get(String path) throws Exception {
    return http.send(
        TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> asProject(String method, String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Authorization", "Bearer " + TestKeys.project(keys, "p"))
            .header("content-type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aProjectKeyIsToldWhichFunctionsCannotRunButNotTheDeploymentsInsides() throws Exception {
    HttpResponse<String> listed = asProject("GET", "/api/functions/unavailable", null);
    assertThat(listed.statusCode()).isEqualTo(200);
    JsonNode unavailable = JSON.readTree(listed.body());
    List<String> ids = new ArrayList<>();
    unavailable.forEach(f -> ids.add(f.get("id").asText()));
    assertThat(ids).contains("needs-custom-node", "paint-square");
    for (JsonNode f : unavailable) {
      for (JsonNode problem : f.get("problems")) {
        assertThat(problem.get("code").asText()).isNotBlank();
        assertThat(problem.get("reason").asText()).isEqualTo(FunctionController.NOT_HERE);
      }
    }
    // no server address, setting, template file or graph detail
    assertThat(listed.body())
        .doesNotContain(COMFY.baseUrl().toString())
        .doesNotContain("127.0.0.1")
        .doesNotContain("TEMPERA_GRADIO_URLS")
        .doesNotContain("template.json")
        .doesNotContain(ROOT.toString())
        .doesNotContain("FaceDetailer");

    // the template authors' list is for operators
    HttpResponse<String> problems = asProject("GET", "/api/functions/problems", null);
    assertThat(problems.statusCode()).isEqualTo(403);
    assertThat(problems.body()).doesNotContain("FaceDetailer");

    // asking for one, or starting one, is refused in the same words
    for (HttpResponse<String> refused :
        List.of(
            asProject("GET", "/api/functions/needs-custom-node", null),
            asProject(
                "POST",
                "/api/generations",
                "{\"functionId\": \"needs-custom-node\", \"nodeId\": \"n\","
                    + " \"parameters\": {\"image\": \"uploads/x.png\"}}"),
            asProject(
                "POST",
                "/api/generations",
                "{\"functionId\": \"paint-square\", \"nodeId\": \"n\", \"parameters\": {}}"))) {
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
      JsonNode error = JSON.readTree(refused.body());
      assertThat(error.get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
      assertThat(error.get("message").asText())
          .contains("is unavailable on this deployment")
          .endsWith("an operator must install what it needs, or choose another function");
      assertThat(refused.body())
          .doesNotContain(COMFY.baseUrl().toString())
          .doesNotContain("TEMPERA_GRADIO_URLS")
          .doesNotContain("FaceDetailer");
    }
  }

  @Test
  void aGradioFunctionStartedWithoutAGradioServerIsRefusedAtOnce() throws Exception {
    HttpResponse<String> refused =
        post(
            "/api/generations",
            """
            {"functionId": "paint-square", "projectId": "p", "nodeId": "n", "parameters": {}}
            """);
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
    JsonNode error = JSON.readTree(refused.body());
    assertThat(error.get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
    assertThat(error.at("/problems/0/code").asText()).isEqualTo("BACKEND_NOT_CONFIGURED");
    // an operator is told what to set
    assertThat(error.get("message").asText()).contains("TEMPERA_GRADIO_URLS");
  }

  HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(
        TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aFunctionNeedingANodeTheServerLacksIsNotOfferedAndListedUnavailableWithTheClassNamed()
      throws Exception {
    List<String> offered = new ArrayList<>();
    JSON.readTree(get("/api/functions").body()).forEach(f -> offered.add(f.get("id").asText()));
    assertThat(offered)
        .contains("invert", "generate-pattern", "framed-color")
        .doesNotContain("needs-custom-node", "text-to-image");

    JsonNode unavailable = JSON.readTree(get("/api/functions/unavailable").body());
    JsonNode mine = null;
    for (JsonNode f : unavailable) {
      if (f.get("id").asText().equals("needs-custom-node")) {
        mine = f;
      }
    }
    assertThat(mine).as(unavailable.toString()).isNotNull();
    assertThat(mine.get("version").asText()).isEqualTo("1.0.0");
    assertThat(mine.get("problems")).hasSize(1);
    JsonNode problem = mine.get("problems").get(0);
    assertThat(problem.get("code").asText()).isEqualTo("UNKNOWN_NODE_CLASS");
    assertThat(problem.get("nodeId").asText()).isEqualTo("2");
    assertThat(problem.get("classType").asText()).isEqualTo("FaceDetailer");
    assertThat(problem.get("reason").asText())
        .isEqualTo(
            "node 2 uses the node class FaceDetailer, which the ComfyUI at "
                + COMFY.baseUrl()
                + " does not have: install the custom node that provides it there, or change the"
                + " graph");
    // the real-model functions need nodes the testkit server does not have either
    assertThat(unavailable.toString()).contains("text-to-image").contains("CheckpointLoaderSimple");

    assertThat(get("/api/functions/problems").body()).contains("FaceDetailer");
    HttpResponse<String> one = get("/api/functions/needs-custom-node");
    assertThat(one.statusCode()).isEqualTo(409);
    assertThat(JSON.readTree(one.body()).get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
  }

  @Test
  void aGradioFunctionIsNotOfferedWithoutAGradioServerAndListedUnavailableWithWhy()
      throws Exception {
    List<String> offered = new ArrayList<>();
    JSON.readTree(get("/api/functions").body()).forEach(f -> offered.add(f.get("id").asText()));
    assertThat(offered).contains("generate-pattern").doesNotContain("paint-square");
    JsonNode mine = null;
    for (JsonNode f : JSON.readTree(get("/api/functions/unavailable").body())) {
      if (f.get("id").asText().equals("paint-square")) {
        mine = f;
      }
    }
    assertThat(mine).isNotNull();
    assertThat(mine.get("displayName").asText()).isEqualTo("Paint a square (Gradio)");
    assertThat(mine.at("/problems/0/code").asText()).isEqualTo("BACKEND_NOT_CONFIGURED");
    assertThat(mine.at("/problems/0/reason").asText()).contains("TEMPERA_GRADIO_URLS");
    HttpResponse<String> one = get("/api/functions/paint-square");
    assertThat(one.statusCode()).isEqualTo(409);
    assertThat(JSON.readTree(one.body()).get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
  }

  @Test
  void aStartOfItIsRefusedWithAClearCodeAndTheOthersStillStart() throws Exception {
    HttpResponse<String> refused =
        post(
            "/api/generations",
            """
            {"functionId": "needs-custom-node", "projectId": "p", "nodeId": "n",
             "parameters": {"image": "uploads/x.png"}}
            """);
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
    JsonNode error = JSON.readTree(refused.body());
    assertThat(error.get("code").asText()).isEqualTo("FUNCTION_UNAVAILABLE");
    assertThat(error.get("message").asText())
        .startsWith(
            "Function 'needs-custom-node' is unavailable: node 2 uses the node class FaceDetailer")
        .endsWith("an operator must install what it needs, or choose another function");
    assertThat(error.at("/problems/0/field").asText()).isEqualTo("functionId");
    assertThat(error.at("/problems/0/code").asText()).isEqualTo("UNKNOWN_NODE_CLASS");

    HttpResponse<String> started =
        post(
            "/api/generations",
            """
            {"functionId": "generate-pattern", "projectId": "p", "nodeId": "n", "parameters": {}}
            """);
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
  }
}
