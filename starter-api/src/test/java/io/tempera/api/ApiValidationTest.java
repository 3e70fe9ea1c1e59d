package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The API alone (no worker): every bad request is refused with a clear 4xx before any workflow
 * starts, and never with a 500.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/api-test-outputs"
    })
class ApiValidationTest {

  @org.springframework.beans.factory.annotation.Autowired io.tempera.security.ApiKeyStore keys;

  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  record Case(String name, String body, int status, String code, int problems) {
    @Override
    public String toString() {
      return name;
    }
  }

  static List<Case> badRequests() {
    return List.of(
        new Case("not JSON", "{\"functionId\": ", 400, "INVALID_BODY", 0),
        new Case("a JSON array", "[1,2]", 400, "INVALID_BODY", 0),
        new Case(
            "no function", "{\"projectId\":\"p\",\"nodeId\":\"n\"}", 400, "INVALID_REQUEST", 1),
        new Case("no project or node", "{\"functionId\":\"invert\"}", 400, "INVALID_REQUEST", 2),
        new Case(
            "path-like project",
            "{\"functionId\":\"invert\",\"projectId\":\"../x\",\"nodeId\":\"n\"}",
            400,
            "INVALID_REQUEST",
            1),
        new Case(
            "bad requestId",
            "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"requestId\":\"a/b\"}",
            400,
            "INVALID_REQUEST",
            1),
        new Case(
            "huge tier",
            "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"tier\":\""
                + "x".repeat(40)
                + "\"}",
            400,
            "INVALID_REQUEST",
            1),
        new Case(
            "unknown function",
            "{\"functionId\":\"nope\",\"projectId\":\"p\",\"nodeId\":\"n\"}",
            404,
            "UNKNOWN_FUNCTION",
            0),
        new Case(
            "unknown version",
            "{\"functionId\":\"invert\",\"functionVersion\":\"9.9\",\"projectId\":\"p\",\"nodeId\":\"n\"}",
            404,
            "UNKNOWN_FUNCTION_VERSION",
            0),
        new Case(
            "missing image",
            "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{}}",
            422,
            "INVALID_PARAMETERS",
            1),
        new Case(
            "image outside project",
            "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{\"image\":\"../../etc/passwd\"}}",
            422,
            "INVALID_PARAMETERS",
            1),
        new Case(
            "image not uploaded",
            "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{\"image\":\"uploads/x.png\"}}",
            422,
            "INVALID_PARAMETERS",
            1),
        new Case(
            "wrong types and unknown key",
            "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{\"color\":\"red\",\"blur\":2.5,\"size\":1}}",
            422,
            "INVALID_PARAMETERS",
            3),
        new Case(
            "out of range",
            "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{\"blur\":0,\"border\":9999}}",
            422,
            "INVALID_PARAMETERS",
            2),
        new Case(
            "parameters not an object",
            "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":[1]}",
            400,
            "INVALID_REQUEST",
            1));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void badRequestsAreRefusedWithACodeAndAMessage(Case c) throws Exception {
    HttpResponse<String> response =
        http.send(
            TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + "/api/generations"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(c.body()))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(c.status());
    JsonNode error = JSON.readTree(response.body());
    assertThat(error.get("code").asText()).isEqualTo(c.code());
    assertThat(error.get("message").asText()).isNotBlank().doesNotContain("Exception");
    assertThat(error.path("problems").size()).isEqualTo(c.problems());
  }

  @Test
  void unknownGenerationsAndRoutesAre404() throws Exception {
    for (String path :
        List.of(
            "/api/generations/gen-nope",
            "/api/generations/xyz",
            "/api/generations/gen-nope/outputs/a.png")) {
      HttpResponse<String> response =
          http.send(
              TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + path)).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as(path).isEqualTo(404);
      assertThat(JSON.readTree(response.body()).get("code").asText())
          .as(path)
          .isEqualTo("NOT_FOUND");
    }
  }

  @Test
  void withEncryptionOffTheCodecAnswersEncryptionOff() throws Exception {
    for (String path : List.of("/api/admin/codec/decode", "/api/admin/codec/encode")) {
      HttpResponse<String> response =
          http.send(
              TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + path))
                  .header("content-type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString("{\"payloads\":[]}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as(path).isEqualTo(404);
      assertThat(JSON.readTree(response.body()).get("code").asText()).isEqualTo("ENCRYPTION_OFF");
    }
  }

  @Test
  void theFunctionListDescribesParametersAsJsonSchema() throws Exception {
    HttpResponse<String> response =
        http.send(
            TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + "/api/functions/invert"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    JsonNode invert = JSON.readTree(response.body());
    assertThat(invert.at("/parameterSchema/required")).hasSize(1);
    assertThat(invert.at("/parameterSchema/properties/image/format").asText())
        .isEqualTo("project-file");
    // a tier shows what its model needs, never which model it is
    assertThat(invert.at("/tierDetails/ultra/vramMb").asInt()).isEqualTo(512);
    assertThat(response.body()).doesNotContain("testkit-comfyui").doesNotContain("\"model\"");
    assertThat(
            JSON.readTree(
                http.send(
                        TestKeys.request(
                                keys,
                                URI.create("http://127.0.0.1:" + port + "/api/functions/problems"))
                            .build(),
                        HttpResponse.BodyHandlers.ofString())
                    .body()))
        .isEmpty();
  }
}
