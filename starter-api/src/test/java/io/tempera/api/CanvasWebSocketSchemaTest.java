package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The canvas WebSocket's JSON Schema (static/schemas/canvas-websocket.schema.json, served at
 * /schemas/canvas-websocket.schema.json) against the server: its enums are the Java enums', its
 * client messages carry exactly the fields the handler accepts, and every error code the API's
 * sources refuse with is an {@link ApiErrorCode} with the status the source gives it. The messages
 * the server really sends are checked against it in the embedded CanvasWebSocketProtocolTest.
 */
class CanvasWebSocketSchemaTest {

  static final ObjectMapper JSON = new ObjectMapper();

  static JsonNode schema() throws IOException {
    try (InputStream in =
        CanvasWebSocketSchemaTest.class.getResourceAsStream(
            "/static/schemas/canvas-websocket.schema.json")) {
      assertThat(in).as("the schema on the classpath").isNotNull();
      return JSON.readTree(in);
    }
  }

  static List<String> enumOf(JsonNode schema, String def) {
    List<String> values = new ArrayList<>();
    schema.get("$defs").get(def).get("enum").forEach(v -> values.add(v.asText()));
    return values;
  }

  static List<String> enumOf(JsonNode schema, String def, String property) {
    List<String> values = new ArrayList<>();
    schema
        .get("$defs")
        .get(def)
        .get("properties")
        .get(property)
        .get("enum")
        .forEach(v -> values.add(v.asText()));
    return values;
  }

  @Test
  void itsEnumsAreTheServersEnums() throws IOException {
    JsonNode schema = schema();
    assertThat(enumOf(schema, "ApiErrorCode")).isEqualTo(OpenApiConfiguration.API_ERRORS);
    assertThat(enumOf(schema, "GenerationErrorCode"))
        .isEqualTo(OpenApiConfiguration.GENERATION_ERRORS);
    assertThat(enumOf(schema, "ErrorAction")).isEqualTo(OpenApiConfiguration.ACTIONS);
    assertThat(enumOf(schema, "GenerationStatus")).isEqualTo(OpenApiConfiguration.STATUSES);
    assertThat(enumOf(schema, "AckStatus"))
        .isEqualTo(OpenApiConfiguration.STATUSES.stream().map(String::toLowerCase).toList());
    assertThat(enumOf(schema, "Phase")).isEqualTo(OpenApiConfiguration.PHASES);
    assertThat(enumOf(schema, "Tier")).isEqualTo(OpenApiConfiguration.TIERS);
    assertThat(enumOf(schema, "Priority")).isEqualTo(OpenApiConfiguration.PRIORITIES);
    assertThat(enumOf(schema, "Waiting", "for")).isEqualTo(OpenApiConfiguration.WAITING_FOR);
    assertThat(enumOf(schema, "BatchAckStatus"))
        .isEqualTo(
            Stream.of(io.tempera.batch.BatchStatus.values())
                .map(b -> b.name().toLowerCase(java.util.Locale.ROOT))
                .toList());
    assertThat(enumOf(schema, "Role"))
        .isEqualTo(
            Stream.of(io.tempera.security.Caller.Role.values())
                .map(io.tempera.security.Caller.Role::wire)
                .toList());
  }

  @Test
  void itsClientMessagesCarryTheFieldsTheHandlerAccepts() throws IOException {
    JsonNode defs = schema().get("$defs");
    Map<String, Set<String>> described = new LinkedHashMap<>();
    for (JsonNode ref : defs.get("ClientMessage").get("oneOf")) {
      JsonNode message = defs.get(ref.get("$ref").asText().replace("#/$defs/", ""));
      Set<String> fields = new HashSet<>();
      message.get("properties").fieldNames().forEachRemaining(fields::add);
      described.put(message.get("properties").get("type").get("const").asText(), fields);
    }
    assertThat(described).isEqualTo(CanvasWebSocketHandler.FIELDS);
  }

  @Test
  void itAcceptsTheMessagesAClientSendsAndRefusesOthers() throws IOException {
    JsonNode root = schema();
    ((com.fasterxml.jackson.databind.node.ObjectNode) root).remove("$id");
    Schema schema =
        SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
            .getSchema(root.toString(), com.networknt.schema.InputFormat.JSON);
    for (String ok :
        List.of(
            "{\"type\":\"authenticate\",\"key\":\"tpk_x\"}",
            "{\"type\":\"start_generation\",\"functionId\":\"invert\",\"nodeId\":\"n\","
                + "\"requestId\":\"r\",\"tier\":\"high\",\"priority\":\"batch\","
                + "\"parameters\":{\"image\":\"uploads/a.png\"},\"webhook\":{\"url\":\"https://x\"}}",
            "{\"type\":\"subscribe\",\"taskIds\":[\"t\"],\"lastEventIds\":{\"t\":3}}",
            "{\"type\":\"subscribe_batch\",\"batchId\":\"batch-x\",\"lastEventId\":4}",
            "{\"type\":\"batch_progress\",\"batchId\":\"batch-x\",\"eventId\":5,"
                + "\"status\":\"running\",\"progress\":{\"total\":4,\"waiting\":1,"
                + "\"inFlight\":3,\"succeeded\":0,\"failed\":0,\"cancelled\":0},"
                + "\"quotaWait\":{\"code\":\"QUOTA_QUEUED\",\"message\":\"m\",\"until\":\"t\"}}",
            "{\"type\":\"batch_ended\",\"batchId\":\"batch-x\",\"eventId\":9,"
                + "\"status\":\"cancelled\",\"progress\":{\"total\":4,\"waiting\":0,"
                + "\"inFlight\":0,\"succeeded\":1,\"failed\":0,\"cancelled\":3}}",
            "{\"type\":\"error\",\"code\":\"NOT_FOUND\",\"status\":404,\"message\":\"m\","
                + "\"batchId\":\"batch-x\"}",
            "{\"type\":\"error\",\"code\":\"QUOTA_RUNNING\",\"status\":429,\"message\":\"m\","
                + "\"retryAfterSeconds\":5,\"nodeId\":\"n\",\"requestId\":\"r\"}")) {
      assertThat(schema.validate(JSON.readTree(ok))).as(ok).isEmpty();
    }
    for (String bad :
        List.of(
            "{\"type\":\"start_generation\",\"nodeId\":\"n\",\"priority\":\"asap\"}",
            "{\"type\":\"subscribe\",\"taskIds\":[]}",
            "{\"type\":\"subscribe_batch\"}",
            "{\"type\":\"batch_ended\",\"batchId\":\"b\",\"eventId\":3,\"status\":\"running\","
                + "\"progress\":{\"total\":1,\"waiting\":0,\"inFlight\":1,\"succeeded\":0,"
                + "\"failed\":0,\"cancelled\":0}}",
            "{\"type\":\"error\",\"code\":\"NOPE\",\"status\":400,\"message\":\"m\"}",
            "{\"type\":\"what\"}")) {
      assertThat(schema.validate(JSON.readTree(bad))).as(bad).isNotEmpty();
    }
  }

  /** Every code the API's sources refuse with, with the HTTP status they give it where they do. */
  @Test
  void everyCodeTheApiRefusesWithIsAnApiErrorCodeWithItsStatus() throws IOException {
    Pattern refusal =
        Pattern.compile(
            "(?:new ApiException\\(|ApiException\\.\\w+\\(|\\berror\\(|ApiMessages\\.Error\\("
                + "|tooManyRequests\\(|HttpStatus\\.(\\w+),)\\s*"
                + "(?:(?:org\\.springframework\\.http\\.)?HttpStatus\\.(\\w+),\\s*)?\"([A-Z][A-Z0-9_]+)\"");
    List<String> wrong = new ArrayList<>();
    int found = 0;
    try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        Matcher m = refusal.matcher(Files.readString(file, StandardCharsets.UTF_8));
        while (m.find()) {
          found++;
          String code = m.group(3);
          String status = m.group(1) != null ? m.group(1) : m.group(2);
          ApiErrorCode known =
              Stream.of(ApiErrorCode.values())
                  .filter(c -> c.name().equals(code))
                  .findFirst()
                  .orElse(null);
          if (known == null) {
            wrong.add(file.getFileName() + ": " + code + " is not an ApiErrorCode");
          } else if (status != null && !known.status().name().equals(status)) {
            wrong.add(
                file.getFileName() + ": " + code + " with " + status + ", not " + known.status());
          }
        }
      }
    }
    assertThat(found).as("refusals found in the sources").isGreaterThan(40);
    assertThat(wrong).isEmpty();
  }
}
