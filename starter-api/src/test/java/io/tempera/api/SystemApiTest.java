package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * {@code GET /api/system}: on the in-process test server it says so, and that running generations
 * do not survive a restart; it wants a key like every route; it is in the OpenAPI document.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/system-test-outputs"
    })
class SystemApiTest {

  static final ObjectMapper JSON = new ObjectMapper();
  @Autowired io.tempera.security.ApiKeyStore keys;
  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void onTheInProcessTestServerItSaysRunningGenerationsAreLostOnARestart() throws Exception {
    HttpResponse<String> response = get("/api/system", TestKeys.project(keys, "p"));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode system = JSON.readTree(response.body());
    assertThat(system.path("temporal").asText()).isEqualTo("IN_PROCESS_TEST_SERVER");
    assertThat(system.path("durable").isBoolean()).isTrue();
    assertThat(system.path("durable").asBoolean()).isFalse();
  }

  @Test
  void itWantsAKey() throws Exception {
    HttpResponse<String> response = get("/api/system", null);
    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(JSON.readTree(response.body()).path("code").asText()).isEqualTo("UNAUTHENTICATED");
  }

  @Test
  void itIsInTheOpenApiDocumentWithItsEnum() throws Exception {
    JsonNode doc = JSON.readTree(get("/v3/api-docs", null).body());
    assertThat(doc.at("/paths/~1api~1system/get").isMissingNode()).isFalse();
    JsonNode schema = doc.at("/components/schemas/SystemInfo");
    assertThat(schema.at("/properties/temporal/enum").toString())
        .isEqualTo("[\"IN_PROCESS_TEST_SERVER\",\"DEV_SERVER\",\"CLUSTER\"]");
    assertThat(schema.path("required").toString()).contains("temporal").contains("durable");
    assertThat(doc.at("/components/schemas/RequestProblem/properties/field/description").asText())
        .contains("JSON path of the request body");
    assertThat(doc.at("/components/schemas/RequestProblem/properties/parameter").isMissingNode())
        .isFalse();
  }

  @Test
  void aDevServerOrAClusterIsDurable() {
    assertThat(SystemController.describe(false, "dev-server"))
        .isEqualTo(new SystemController.SystemInfo(SystemController.TemporalKind.DEV_SERVER, true));
    assertThat(SystemController.describe(false, "cluster"))
        .isEqualTo(new SystemController.SystemInfo(SystemController.TemporalKind.CLUSTER, true));
    assertThat(SystemController.describe(true, "dev-server").durable()).isFalse();
    assertThatThrownBy(() -> SystemController.describe(false, "laptop"))
        .hasMessageContaining("set it to dev-server or cluster");
  }
}
