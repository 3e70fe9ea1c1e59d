package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * {@code problems[].field} is the JSON path of the request body's field, as the caller sent it, on
 * every route and over the canvas WebSocket; never a name of the server's code ({@code arg0},
 * {@code request.}, {@code generationRequest.}). A parameter's problem also carries {@code
 * parameter}, the parameter's bare name, on both transports.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/problem-fields-test-outputs"
    })
class ProblemFieldsApiTest {

  static final ObjectMapper JSON = new ObjectMapper();

  /** The fields of a start's body (REST and start_generation/start_batch), and their paths. */
  static final Pattern BODY_PATH =
      Pattern.compile(
          "(type|functionId|functionVersion|tier|projectId|nodeId|requestId|priority|count"
              + "|webhook(\\.[A-Za-z0-9_?…-]+)?|parameters(\\.[A-Za-z0-9_-]+)?"
              + "|sweep(\\.[A-Za-z0-9_-]+)?|[A-Za-z0-9_?…-]+)");

  /** What a Java name in a field looks like. */
  static final Pattern INTERNAL =
      Pattern.compile(
          "(^|\\.)(arg\\d+|request|generationRequest|body|startGeneration|batchRequest)(\\.|$)");

  /** Bad bodies: each must be refused with problems. */
  static final List<String> BAD_GENERATIONS =
      List.of(
          "{\"projectId\":\"p\",\"nodeId\":\"n\"}",
          "{\"functionId\":\"invert\"}",
          "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"requestId\":\"a/b\"}",
          "{\"functionId\":5,\"projectId\":\"p\",\"nodeId\":\"n\"}",
          "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"colour\":1}",
          "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":[1]}",
          "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\",\"parameters\":{}}",
          "{\"functionId\":\"invert\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"parameters\":{\"image\":\"uploads/none.png\"}}",
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"parameters\":{\"color\":\"red\",\"blur\":2.5,\"size\":1,\"border\":null}}",
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"webhook\":{\"url\":5,\"secret\":\"x\"}}",
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"webhook\":\"https://x\"}");

  static final List<String> BAD_BATCHES =
      List.of(
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"sweep\":{\"blur\":[2]},\"parameters\":{\"blur\":4}}",
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"sweep\":{\"blur\":3},\"extra\":true}",
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"n\","
              + "\"sweep\":{\"size\":[1,2]}}",
          // one variation's swept value is wrong, and a fixed one: each at its body path
          "{\"functionId\":\"generate-pattern\",\"projectId\":\"p\",\"nodeId\":\"v\","
              + "\"sweep\":{\"blur\":[1,2.5]},\"parameters\":{\"color\":\"red\"}}");

  @Autowired io.tempera.security.ApiKeyStore keys;
  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  @Test
  void everyProblemOverRestNamesABodyPathAndAParameterItsName() throws Exception {
    List<JsonNode> problems = new ArrayList<>();
    for (String body : BAD_GENERATIONS) {
      problems.addAll(refused("/api/generations", body));
    }
    for (String body : BAD_BATCHES) {
      problems.addAll(refused("/api/batches", body));
    }
    // the operator's routes with bodies
    problems.addAll(
        refused("POST", "/api/admin/keys", "{\"projectId\":\"p\",\"nmae\":\"x\"}", true));
    problems.addAll(
        refused("PUT", "/api/admin/webhooks/p", "{\"allowedhosts\":[\"x.example\"]}", true));
    assertRealPaths(problems);
    assertThat(problems.stream().map(p -> p.path("field").asText()).toList())
        .contains("nmae", "allowedhosts");
    // the parameters' problems, each with its parameter
    assertThat(problems.stream().map(p -> p.path("field").asText()).toList())
        .contains(
            "parameters.image",
            "parameters.color",
            "parameters.blur",
            "parameters.size",
            "parameters.border",
            "functionId",
            "requestId",
            "colour",
            "parameters",
            "webhook",
            "webhook.url",
            "webhook.secret",
            "sweep.size");
    JsonNode color = withField(problems, "parameters.color");
    assertThat(color.path("parameter").asText()).isEqualTo("color");
    assertThat(withField(problems, "sweep.size").path("parameter").asText()).isEqualTo("size");
    // a variation's problem: the swept value's path, the variation in the message
    JsonNode variation =
        problems.stream()
            .filter(p -> p.path("field").asText().equals("sweep.blur"))
            .filter(p -> p.path("message").asText().startsWith("variation "))
            .findFirst()
            .orElseThrow(
                () -> new AssertionError("no variation problem at sweep.blur: " + problems));
    assertThat(variation.path("parameter").asText()).isEqualTo("blur");
    assertThat(variation.path("message").asText()).contains("2.5");
    // not a parameter's: no parameter
    assertThat(withField(problems, "functionId").has("parameter")).isFalse();
    assertThat(withField(problems, "parameters").has("parameter")).isFalse();
  }

  @Test
  void everyProblemOverTheWebSocketNamesAMessagePathAndAParameterItsName() throws Exception {
    GenerationValuesApiTest.Socket ws = new GenerationValuesApiTest.Socket();
    WebSocket socket =
        http.newWebSocketBuilder()
            .header("Authorization", "Bearer " + TestKeys.project(keys, "p"))
            .buildAsync(URI.create("ws://127.0.0.1:" + port + "/ws"), ws)
            .get(10, TimeUnit.SECONDS);
    List<JsonNode> problems = new ArrayList<>();
    try {
      List<String> messages = new ArrayList<>();
      for (String body : BAD_GENERATIONS) {
        messages.add("{\"type\":\"start_generation\"," + body.substring(1));
      }
      for (String body : BAD_BATCHES) {
        messages.add("{\"type\":\"start_batch\"," + body.substring(1));
      }
      for (String message : messages) {
        socket.sendText(message, true).get(10, TimeUnit.SECONDS);
        JsonNode reply;
        do {
          reply = ws.received.poll(30, TimeUnit.SECONDS);
          assertThat(reply).as("an answer to %s", message).isNotNull();
        } while (!reply.path("type").asText().equals("error"));
        assertThat(reply.path("problems").size()).as(message + " → " + reply).isPositive();
        reply.path("problems").forEach(problems::add);
      }
    } finally {
      socket.abort();
    }
    assertRealPaths(problems);
    assertThat(withField(problems, "parameters.color").path("parameter").asText())
        .isEqualTo("color");
    assertThat(withField(problems, "parameters.image").path("parameter").asText())
        .isEqualTo("image");
    assertThat(withField(problems, "sweep.size").path("parameter").asText()).isEqualTo("size");
    assertThat(withField(problems, "sweep.blur").path("parameter").asText()).isEqualTo("blur");
    assertThat(withField(problems, "functionId").has("parameter")).isFalse();
  }

  private List<JsonNode> refused(String path, String body) throws Exception {
    return refused("POST", path, body, false);
  }

  private List<JsonNode> refused(String method, String path, String body, boolean operator)
      throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header(
                    "Authorization",
                    "Bearer " + (operator ? TestKeys.operator(keys) : TestKeys.project(keys, "p")))
                .header("content-type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode())
        .as(path + " " + body + " → " + response.body())
        .isBetween(400, 499);
    JsonNode problems = JSON.readTree(response.body()).path("problems");
    assertThat(problems.size()).as(path + " " + body + " → " + response.body()).isPositive();
    List<JsonNode> all = new ArrayList<>();
    problems.forEach(all::add);
    return all;
  }

  private static void assertRealPaths(List<JsonNode> problems) {
    assertThat(problems).isNotEmpty();
    for (JsonNode problem : problems) {
      String field = problem.path("field").asText();
      assertThat(field).as(problem.toString()).matches(BODY_PATH);
      assertThat(INTERNAL.matcher(field).find()).as(problem.toString()).isFalse();
      String parameter = RequestProblemFields.parameterOf(field);
      if (parameter == null) {
        assertThat(problem.has("parameter")).as(problem.toString()).isFalse();
      } else {
        assertThat(problem.path("parameter").asText()).as(problem.toString()).isEqualTo(parameter);
      }
    }
  }

  private static JsonNode withField(List<JsonNode> problems, String field) {
    return problems.stream()
        .filter(p -> p.path("field").asText().equals(field))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no problem with field " + field + ": " + problems));
  }

  /** The parameter a body path names, read independently of the server's code. */
  static final class RequestProblemFields {
    static String parameterOf(String field) {
      for (String prefix : List.of("parameters.", "sweep.")) {
        if (field.startsWith(prefix) && field.length() > prefix.length()) {
          return field.substring(prefix.length());
        }
      }
      return null;
    }
  }
}
