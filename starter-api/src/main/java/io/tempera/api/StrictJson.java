package io.tempera.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.tempera.template.RequestProblem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springframework.http.HttpStatus;

/**
 * Strict reading of the API's JSON messages, the same for a REST body and a WebSocket message: a
 * field that names an id or a choice must be a JSON string (a number or a boolean is not turned
 * into one), a field the message does not know is refused by name (so are {@code @class} and {@code
 * __proto__}), a key given twice is refused; {@code parameters} keeps its JSON types, to be checked
 * against the function's template.
 */
final class StrictJson {

  /** The fields of {@code POST /api/generations}. */
  static final Set<String> START_FIELDS =
      Set.of(
          "functionId",
          "functionVersion",
          "tier",
          "priority",
          "parameters",
          "projectId",
          "nodeId",
          "requestId",
          "webhook");

  /** The fields of {@code POST /api/batches}: a generation's, and its count and sweep. */
  static final Set<String> BATCH_FIELDS =
      Set.of(
          "functionId",
          "functionVersion",
          "tier",
          "priority",
          "parameters",
          "projectId",
          "nodeId",
          "requestId",
          "webhook",
          "count",
          "sweep");

  /** Deepest nesting a message may have (objects and arrays). */
  static final int MAX_DEPTH = 200;

  private static final JsonMapper READER =
      JsonMapper.builder(
              com.fasterxml.jackson.core.JsonFactory.builder()
                  .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                  .streamReadConstraints(
                      StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
                  .build())
          .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  private StrictJson() {}

  /**
   * The JSON text as a tree; not JSON (broken, a duplicate key, NaN, nested too deep, a number too
   * long) → 400 {@code code}.
   */
  static JsonNode parse(byte[] text, String code) {
    try {
      JsonNode node = READER.readTree(text);
      if (node == null || node.isMissingNode()) {
        throw ApiException.badRequest(code, "The body is empty: send a JSON object as documented");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest(code, notJson(e));
    } catch (java.io.IOException e) {
      throw ApiException.badRequest(code, "The body could not be read as JSON");
    }
  }

  /** The same for a WebSocket message's text. */
  /**
   * The JSON body of {@code request}, read with the limit {@code maxBytes} (413 {@code
   * PAYLOAD_TOO_LARGE} over it, declared or sent) and parsed strictly (400 {@code INVALID_BODY}).
   */
  static reactor.core.publisher.Mono<JsonNode> body(
      org.springframework.http.server.reactive.ServerHttpRequest request, int maxBytes) {
    java.util.function.Supplier<ApiException> tooLarge =
        () ->
            new ApiException(
                HttpStatus.CONTENT_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is over " + maxBytes + " bytes (tempera.limits.max-json-bytes)");
    if (request.getHeaders().getContentLength() > maxBytes) {
      return reactor.core.publisher.Mono.error(tooLarge.get());
    }
    return org.springframework.core.io.buffer.DataBufferUtils.join(request.getBody(), maxBytes)
        .onErrorMap(
            org.springframework.core.io.buffer.DataBufferLimitException.class, e -> tooLarge.get())
        .map(buffer -> {
          try {
            byte[] bytes = new byte[buffer.readableByteCount()];
            buffer.read(bytes);
            return bytes;
          } finally {
            org.springframework.core.io.buffer.DataBufferUtils.release(buffer);
          }
        })
        .defaultIfEmpty(new byte[0])
        .map(bytes -> parse(bytes, "INVALID_BODY"));
  }

  static JsonNode parse(String text) throws JsonProcessingException {
    return READER.readTree(text);
  }

  /** A sentence saying where the JSON broke, without the parser's own text or class names. */
  static String notJson(JsonProcessingException e) {
    var where = e.getLocation();
    String at =
        where == null || where.getLineNr() < 0
            ? ""
            : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")";
    String why =
        e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException
            ? "it is nested too deeply or holds a number or string too long"
            : e.getOriginalMessage() != null && e.getOriginalMessage().startsWith("Duplicate field")
                ? "a field is given twice"
                : "it is not valid JSON (NaN and Infinity are not JSON numbers)";
    return "The body could not be read: " + why + at + "; send a JSON object as documented";
  }

  /**
   * The start request in {@code message}, every problem with it at once: unknown fields and fields
   * of the wrong JSON type → 400 {@code INVALID_REQUEST} naming each field.
   *
   * @param known the fields the message may carry
   * @param aliases a field also accepted under another name (the canvas's {@code nodeType} for
   *     {@code functionId})
   */
  static ApiMessages.StartGeneration startGeneration(
      JsonNode message, Set<String> known, Map<String, String> aliases) {
    if (!message.isObject()) {
      throw ApiException.badRequest(
          "INVALID_BODY", "Send a JSON object with functionId, projectId, nodeId and parameters");
    }
    List<RequestProblem> problems = new ArrayList<>();
    Map<String, String> strings = new LinkedHashMap<>();
    ApiMessages.WebhookRequest webhook = null;
    for (var fields = message.fields(); fields.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = fields.next();
      String field = entry.getKey();
      JsonNode value = entry.getValue();
      if (!known.contains(field)) {
        problems.add(unknownField(field, known));
      } else if (field.equals("webhook") && !value.isNull()) {
        webhook = webhook(value, problems);
      } else if (field.equals("parameters")
          || field.equals("type")
          || field.equals("count")
          || field.equals("sweep")
          || value.isNull()) {
        // read apart: parameters against the template; a batch's count and sweep by its reader
        continue;
      } else if (!value.isTextual()) {
        problems.add(
            new RequestProblem(
                field,
                "INVALID_FIELD",
                field + " must be a string, not " + kind(value) + " (ids are not coerced)"));
      } else {
        if (aliases.containsKey(field)) {
          strings.putIfAbsent(aliases.get(field), value.textValue()); // the field itself wins
        } else {
          strings.put(field, value.textValue());
        }
      }
    }
    JsonNode parameters = message.get("parameters");
    if (parameters != null && !parameters.isNull() && !parameters.isObject()) {
      problems.add(
          new RequestProblem(
              "parameters",
              "INVALID_FIELD",
              "parameters must be an object of parameter names to values, not "
                  + kind(parameters)));
    }
    if (!problems.isEmpty()) {
      throw new ApiException(
          HttpStatus.BAD_REQUEST, "INVALID_REQUEST", summary(problems), problems);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> params =
        parameters == null || parameters.isNull()
            ? null
            : READER.convertValue(parameters, LinkedHashMap.class);
    return new ApiMessages.StartGeneration(
        strings.get("functionId"),
        strings.get("tier"),
        params,
        strings.get("projectId"),
        strings.get("nodeId"),
        strings.get("requestId"),
        strings.get("functionVersion"),
        strings.get("priority"),
        webhook);
  }

  /** A JSON value as plain Java (maps, lists, strings, numbers, booleans, null). */
  static Object plain(JsonNode value) {
    return READER.convertValue(value, Object.class);
  }

  /** {@code webhook: {"url": "https://..."}}; its problems added to {@code problems}. */
  private static ApiMessages.WebhookRequest webhook(JsonNode value, List<RequestProblem> problems) {
    if (!value.isObject()) {
      problems.add(
          new RequestProblem(
              "webhook",
              "INVALID_FIELD",
              "webhook must be an object such as {\"url\": \"https://...\"}, not " + kind(value)));
      return null;
    }
    for (var names = value.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!name.equals("url")) {
        problems.add(
            new RequestProblem(
                "webhook." + shown(name),
                "UNKNOWN_FIELD",
                "'webhook." + shown(name) + "' is not a field of a webhook (fields: url)"));
      }
    }
    JsonNode url = value.get("url");
    if (url == null || !url.isTextual()) {
      problems.add(
          new RequestProblem(
              "webhook.url",
              url == null ? "MISSING_FIELD" : "INVALID_FIELD",
              "webhook.url must be the receiver's URL as a string"));
      return null;
    }
    return new ApiMessages.WebhookRequest(url.textValue());
  }

  /** A problem for each field of {@code message} not in {@code known}, in the message's order. */
  static List<RequestProblem> unknownFields(JsonNode message, Set<String> known) {
    List<RequestProblem> problems = new ArrayList<>();
    for (var names = message.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!known.contains(name)) {
        problems.add(unknownField(name, known));
      }
    }
    return problems;
  }

  private static RequestProblem unknownField(String name, Set<String> known) {
    String shown = shown(name);
    return new RequestProblem(
        shown,
        "UNKNOWN_FIELD",
        "'"
            + shown
            + "' is not a field of this message (fields: "
            + String.join(", ", known.stream().sorted().toList())
            + ")");
  }

  static String summary(List<RequestProblem> problems) {
    return problems.size() == 1
        ? problems.get(0).message()
        : problems.size()
            + " problems: "
            + String.join("; ", problems.stream().map(RequestProblem::message).toList());
  }

  /** A field name as shown back: at most 64 characters, control characters replaced. */
  private static String shown(String name) {
    String cut = name.length() > 64 ? name.substring(0, 64) + "…" : name;
    return cut.replaceAll("\\p{Cntrl}", "?");
  }

  /** What a JSON value is, in a person's words. */
  static String kind(JsonNode value) {
    return switch (value.getNodeType()) {
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case ARRAY -> "a list";
      case OBJECT -> "an object";
      case STRING -> "a string";
      default -> "null";
    };
  }
}
