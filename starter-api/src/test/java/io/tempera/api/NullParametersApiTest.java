package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.fixtures.TestFiles;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The API alone: {@code {"parameters": {"x": null}}} starts a generation whose request carries the
 * null when {@code x} is declared nullable, and is refused with 422 INVALID_PARAMETERS, a
 * NULL_NOT_ALLOWED problem and a sentence for a person when it is not (never a 500). The function
 * schema says which parameters take null.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-api", "spring.temporal.test-server.enabled=true"})
class NullParametersApiTest {

  @org.springframework.beans.factory.annotation.Autowired io.tempera.security.ApiKeyStore keys;

  static final ObjectMapper JSON = new ObjectMapper();
  static final Path ROOT;

  static {
    try {
      ROOT = Files.createTempDirectory("tempera-nulls");
      TestFiles.copyTree(
          Path.of("src/test/resources/templates/nullable-options"),
          ROOT.resolve("templates/nullable-options"));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add("tempera.templates-dir", () -> ROOT.resolve("templates").toString());
    registry.add("tempera.output-root", () -> ROOT.resolve("outputs").toString());
  }

  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;
  @Autowired WorkflowClient workflows;

  HttpResponse<String> start(String requestId, String parameters) throws Exception {
    return http.send(
        TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("content-type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"functionId\":\"nullable-options\",\"projectId\":\"p\",\"nodeId\":\"n\","
                        + "\"requestId\":\""
                        + requestId
                        + "\",\"parameters\":"
                        + parameters
                        + "}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aNullForANullableParameterIsAcceptedAndReachesTheWorkflow() throws Exception {
    HttpResponse<String> response = start("null-label", "{\"label\": null}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    String id = JSON.readTree(response.body()).get("id").asText();

    HistoryEvent started = workflows.fetchHistory(id).getHistory().getEvents(0);
    String input =
        started
            .getWorkflowExecutionStartedEventAttributes()
            .getInput()
            .getPayloads(0)
            .getData()
            .toString(StandardCharsets.UTF_8);
    JsonNode parameters = JSON.readTree(input).get("parameters");
    assertThat(parameters.has("label")).as(input).isTrue();
    assertThat(parameters.get("label").isNull()).as(input).isTrue();
    assertThat(parameters.has("size")).as("left out, not filled in: " + input).isFalse();
  }

  @Test
  void aNullForAParameterThatIsNotNullableIs422WithACodeAndAMessage() throws Exception {
    HttpResponse<String> response = start("null-size", "{\"size\": null, \"seed\": null}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(422);
    JsonNode error = JSON.readTree(response.body());
    assertThat(error.get("code").asText()).isEqualTo("INVALID_PARAMETERS");
    assertThat(error.get("message").asText()).isNotBlank().doesNotContain("Exception");
    assertThat(error.get("problems")).hasSize(2);
    JsonNode size = error.get("problems").get(0);
    assertThat(size.get("field").asText()).isEqualTo("parameters.size");
    assertThat(size.get("code").asText()).isEqualTo("NULL_NOT_ALLOWED");
    assertThat(size.get("message").asText())
        .isEqualTo(
            "'size' cannot be null: give a whole number, or leave it out to use its default 64");
    JsonNode seed = error.get("problems").get(1);
    assertThat(seed.get("field").asText()).isEqualTo("parameters.seed");
    assertThat(seed.get("message").asText())
        .isEqualTo(
            "'seed' cannot be null: give a whole number, or leave it out to use the default of"
                + " the function's backend");
  }

  @Test
  void theFunctionsSchemaSaysWhichParametersTakeNull() throws Exception {
    HttpResponse<String> response =
        http.send(
            TestKeys.request(
                    keys,
                    URI.create("http://127.0.0.1:" + port + "/api/functions/nullable-options"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode properties = JSON.readTree(response.body()).at("/parameterSchema/properties");
    assertThat(properties.at("/label/nullable").asBoolean()).as(response.body()).isTrue();
    assertThat(properties.at("/label/type").asText()).isEqualTo("string");
    assertThat(properties.at("/size/nullable").isMissingNode()).isTrue();
    assertThat(properties.at("/seed/default").isMissingNode()).isTrue();
  }
}
