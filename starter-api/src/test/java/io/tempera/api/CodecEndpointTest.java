package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.tempera.codec.EncryptionCodec;
import io.temporal.api.common.v1.Payload;
import io.temporal.client.WorkflowClient;
import io.temporal.common.converter.CodecDataConverter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The codec server for the Temporal UI ({@code /api/admin/codec/encode} and {@code /decode}) with
 * payload encryption on: Temporal's codec JSON in and out, an operator's only.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/api-test-outputs",
      "tempera.security.allowed-origins=http://localhost:8233",
      "tempera.encryption.enabled=true",
      "tempera.encryption.current-key-id=k2",
      "tempera.encryption.keys.k1=" + CodecEndpointTest.K1,
      "tempera.encryption.keys.k2=" + CodecEndpointTest.K2
    })
class CodecEndpointTest {

  static final String K1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  static final String K2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
  static final ObjectMapper JSON = new ObjectMapper();

  @Autowired io.tempera.security.ApiKeyStore keys;
  @Autowired WorkflowClient workflowClient;
  final HttpClient http = HttpClient.newHttpClient();
  @LocalServerPort int port;

  URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  static String b64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  static String text(JsonNode base64) {
    return new String(Base64.getDecoder().decode(base64.asText()), StandardCharsets.UTF_8);
  }

  HttpResponse<String> post(String path, String body, String key) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri(path))
            .header("content-type", "application/json")
            .header("X-Namespace", "default")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      request.header("Authorization", "Bearer " + key);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  static final String PLAIN =
      "{\"payloads\":[{\"metadata\":{\"encoding\":\""
          + b64("json/plain")
          + "\"},\"data\":\""
          + b64("{\"prompt\":\"a violet lighthouse\"}")
          + "\"},{\"metadata\":{\"encoding\":\""
          + b64("binary/null")
          + "\"}}]}";

  @Test
  void theClientAndWorkersEncryptWithTheConfiguredKeys() {
    assertThat(workflowClient.getOptions().getDataConverter())
        .isInstanceOf(CodecDataConverter.class);
  }

  @Test
  void decodingWhatWasEncodedGivesTheOriginalBack() throws Exception {
    String operator = TestKeys.operator(keys);
    HttpResponse<String> encoded = post("/api/admin/codec/encode", PLAIN, operator);

    assertThat(encoded.statusCode()).as(encoded.body()).isEqualTo(200);
    assertThat(encoded.headers().firstValue("content-type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    JsonNode payloads = JSON.readTree(encoded.body()).get("payloads");
    assertThat(payloads).hasSize(2);
    for (JsonNode p : payloads) {
      assertThat(text(p.at("/metadata/encoding"))).isEqualTo("binary/encrypted");
      assertThat(text(p.at("/metadata/encryption-key-id"))).isEqualTo("k2");
    }
    assertThat(encoded.body()).doesNotContain(b64("{\"prompt\":\"a violet lighthouse\"}"));

    HttpResponse<String> decoded = post("/api/admin/codec/decode", encoded.body(), operator);

    assertThat(decoded.statusCode()).as(decoded.body()).isEqualTo(200);
    assertThat(JSON.readTree(decoded.body())).isEqualTo(JSON.readTree(PLAIN));
  }

  @Test
  void decodingTakesOldKeysAndPlainPayloadsAndNamesAnUnknownKey() throws Exception {
    String operator = TestKeys.operator(keys);
    Payload original =
        Payload.newBuilder()
            .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
            .setData(ByteString.copyFromUtf8("\"before the rotation\""))
            .build();
    Payload withK1 =
        EncryptionCodec.ofBase64("k1", Map.of("k1", K1)).encode(List.of(original)).get(0);
    String body =
        "{\"payloads\":["
            + com.google.protobuf.util.JsonFormat.printer().print(withK1)
            + ","
            + com.google.protobuf.util.JsonFormat.printer().print(original)
            + "]}";

    HttpResponse<String> decoded = post("/api/admin/codec/decode", body, operator);

    assertThat(decoded.statusCode()).as(decoded.body()).isEqualTo(200);
    JsonNode payloads = JSON.readTree(decoded.body()).get("payloads");
    assertThat(payloads).hasSize(2);
    for (JsonNode p : payloads) {
      assertThat(text(p.at("/metadata/encoding"))).isEqualTo("json/plain");
      assertThat(text(p.get("data"))).isEqualTo("\"before the rotation\"");
    }

    Payload unknown =
        EncryptionCodec.of("k9", Map.of("k9", new byte[32])).encode(List.of(original)).get(0);
    HttpResponse<String> refused =
        post(
            "/api/admin/codec/decode",
            "{\"payloads\":[" + com.google.protobuf.util.JsonFormat.printer().print(unknown) + "]}",
            operator);
    assertThat(refused.statusCode()).isEqualTo(422);
    JsonNode error = JSON.readTree(refused.body());
    assertThat(error.get("code").asText()).isEqualTo("PAYLOAD_NOT_DECRYPTABLE");
    assertThat(error.get("message").asText())
        .contains("key id 'k9'")
        .doesNotContain(K1)
        .doesNotContain(K2);

    HttpResponse<String> notCodecJson = post("/api/admin/codec/decode", "{\"x\":1}", operator);
    assertThat(notCodecJson.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(notCodecJson.body()).get("code").asText()).isEqualTo("INVALID_BODY");
  }

  @Test
  void onlyAnOperatorMayUseTheCodec() throws Exception {
    for (String path : List.of("/api/admin/codec/decode", "/api/admin/codec/encode")) {
      HttpResponse<String> project = post(path, PLAIN, TestKeys.project(keys, "demo"));
      assertThat(project.statusCode()).as(path).isEqualTo(403);
      assertThat(JSON.readTree(project.body()).get("code").asText()).isEqualTo("FORBIDDEN");
      assertThat(project.body()).doesNotContain("violet");

      HttpResponse<String> nobody = post(path, PLAIN, null);
      assertThat(nobody.statusCode()).as(path).isEqualTo(401);
      assertThat(JSON.readTree(nobody.body()).get("code").asText()).isEqualTo("UNAUTHENTICATED");
    }
  }

  @Test
  void theTemporalUisPreflightIsLetThrough() throws Exception {
    HttpResponse<String> preflight =
        http.send(
            HttpRequest.newBuilder(uri("/api/admin/codec/decode"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("Origin", "http://localhost:8233")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
                .build(),
            HttpResponse.BodyHandlers.ofString());

    assertThat(preflight.statusCode()).isEqualTo(200);
    assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin"))
        .hasValue("http://localhost:8233");
    assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElse(""))
        .containsIgnoringCase("x-namespace")
        .containsIgnoringCase("authorization");
  }
}
