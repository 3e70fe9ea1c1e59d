package io.tempera.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.tempera.security.Caller;
import io.tempera.template.RequestProblem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** The batch routes: start, read (progress and a page of results), cancel. */
@RestController
@RequestMapping("/api/batches")
public class BatchController {

  private final BatchService batches;
  private final BatchFeed feed;
  private final io.tempera.security.ConnectionLimits connections;
  private final int maxJsonBytes;

  public BatchController(
      BatchService batches,
      BatchFeed feed,
      io.tempera.security.ConnectionLimits connections,
      @org.springframework.beans.factory.annotation.Value(
              "${tempera.limits.max-json-bytes:"
                  + GenerationController.DEFAULT_MAX_JSON_BYTES
                  + "}")
          long maxJsonBytes) {
    this.batches = batches;
    this.feed = feed;
    this.connections = connections;
    this.maxJsonBytes = (int) Math.min(Math.max(maxJsonBytes, 1), Integer.MAX_VALUE - 8);
  }

  /**
   * Starts a batch: a generation's fields, and {@code count} (variations of each combination, new
   * seeds) and/or {@code sweep} ({@code {parameter: [values…]}}, the cartesian product of its
   * parameters). Read as strictly as a generation's body.
   */
  @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
  public Mono<ResponseEntity<BatchMessages.Accepted>> start(
      ServerHttpRequest request, @AuthenticationPrincipal Caller caller) {
    return StrictJson.body(request, maxJsonBytes)
        .flatMap(json -> {
          ApiMessages.StartGeneration body =
              StrictJson.startGeneration(json, StrictJson.BATCH_FIELDS, Map.of());
          Integer count = count(json.get("count"));
          Map<String, List<Object>> sweep = sweep(json.get("sweep"));
          requireVariations(count, sweep);
          return Blocking.call(() -> batches.start(body, count, sweep, caller));
        })
        .map(accepted ->
            ResponseEntity.status(HttpStatus.ACCEPTED)
                .header("Location", "/api/batches/" + accepted.id())
                .body(accepted));
  }

  /** A batch names its variations: count, sweep or both (400 INVALID_REQUEST). */
  static void requireVariations(Integer count, Map<String, List<Object>> sweep) {
    if (count == null && sweep == null) {
      throw ApiException.badRequest(
          "INVALID_REQUEST",
          "A batch needs count (variations with new seeds) or sweep ({parameter: [values]}),"
              + " or both");
    }
  }

  /** {@code count}: a whole number, 1 or more; null when left out. */
  static Integer count(JsonNode value) {
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < 1) {
      throw invalid("count", "count must be a whole number, 1 or more");
    }
    return value.intValue();
  }

  /** {@code sweep}: an object of parameter names to non-empty lists; null when left out. */
  static Map<String, List<Object>> sweep(JsonNode value) {
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isObject() || value.isEmpty()) {
      throw invalid(
          "sweep",
          "sweep must be an object of parameter names to lists of values, such as"
              + " {\"cfg\": [5, 7, 9]}");
    }
    Map<String, List<Object>> sweep = new LinkedHashMap<>();
    List<RequestProblem> problems = new ArrayList<>();
    for (var fields = value.fields(); fields.hasNext(); ) {
      Map.Entry<String, JsonNode> field = fields.next();
      JsonNode values = field.getValue();
      if (!values.isArray() || values.isEmpty()) {
        problems.add(
            new RequestProblem(
                "sweep." + field.getKey(),
                "INVALID_FIELD",
                "sweep." + field.getKey() + " must be a non-empty list of values"));
        continue;
      }
      List<Object> plain = new ArrayList<>();
      values.forEach(v -> plain.add(StrictJson.plain(v)));
      sweep.put(field.getKey(), plain);
    }
    if (!problems.isEmpty()) {
      throw new ApiException(
          HttpStatus.BAD_REQUEST, "INVALID_REQUEST", StrictJson.summary(problems), problems);
    }
    return sweep;
  }

  private static ApiException invalid(String field, String message) {
    return new ApiException(
        HttpStatus.BAD_REQUEST,
        "INVALID_REQUEST",
        message,
        List.of(new RequestProblem(field, "INVALID_FIELD", message)));
  }

  /**
   * The caller's project's batches (an operator's: every project's), newest first, of one {@code
   * status} (running, completed, cancelled, failed) if given, {@code limit} a page (1-100, default
   * 20); {@code nextCursor} fetches the next page with the same filter.
   */
  @GetMapping
  public Mono<BatchMessages.Listed> list(
      @RequestParam(required = false) String status,
      @RequestParam(required = false) String cursor,
      @RequestParam(required = false) String limit,
      @AuthenticationPrincipal Caller caller) {
    return Blocking.call(() -> batches.list(status, cursor, limit, caller));
  }

  /**
   * The batch's progress, and its variations {@code offset} to {@code offset + limit - 1} (at most
   * 500 a page): each one's status, what it varies, its outputs' signed URLs or its error.
   */
  @GetMapping("/{id}")
  public Mono<BatchMessages.Batch> get(
      @PathVariable String id,
      @RequestParam(defaultValue = "0") int offset,
      @RequestParam(defaultValue = "100") int limit,
      @AuthenticationPrincipal Caller caller) {
    if (offset < 0 || limit < 1) {
      return Mono.error(
          ApiException.badRequest(
              "INVALID_REQUEST", "offset must be 0 or more and limit 1 or more (at most 500)"));
    }
    return Blocking.call(() -> batches.view(id, offset, limit, caller));
  }

  /**
   * Server-sent events of the batch's progress: {@code progress} with its counts now (read at most
   * once a second, sent when they moved), then one terminal event ({@code completed}, {@code
   * cancelled} or {@code failed}) with its last counts, after which the stream ends. Event ids
   * increase as the batch moves; a client reconnecting with Last-Event-ID gets only what moved
   * since.
   */
  @GetMapping(value = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
  public Flux<ServerSentEvent<Object>> events(
      @PathVariable String id,
      @RequestHeader(value = "Last-Event-ID", required = false) String lastEventId,
      @AuthenticationPrincipal Caller caller) {
    java.util.Optional<io.tempera.security.ConnectionLimits.Held> held = connections.open(caller);
    if (held.isEmpty()) {
      return Flux.error(GenerationController.tooManyConnections(connections.perKey()));
    }
    Flux<ServerSentEvent<Object>> events =
        Blocking.call(
                () -> {
                  batches.requireAccess(id, caller);
                  return id;
                })
            .flatMapMany(ok -> feed.follow(id, lastSeen(lastEventId)))
            .map(event ->
                ServerSentEvent.builder()
                    .event(
                        BatchFeed.terminal(event)
                            ? event.status().toLowerCase(java.util.Locale.ROOT)
                            : "progress")
                    .id(Long.toString(event.eventId()))
                    .data((Object) event)
                    .build())
            .share();
    Flux<ServerSentEvent<Object>> keepAlive =
        GenerationFeed.keepAlive(events)
            .map(i -> ServerSentEvent.builder().comment("keep-alive").build());
    return Flux.merge(events, keepAlive).doFinally(signal -> held.get().close());
  }

  /** The Last-Event-ID a client sends back: the last event id it saw (0: none, or unreadable). */
  static long lastSeen(String header) {
    if (header == null || header.isBlank()) {
      return 0;
    }
    try {
      return Math.max(0, Long.parseLong(header.strip()));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * Cancels the batch: its generations not ended are cancelled, those not started never start; it
   * ends CANCELLED, the results so far kept.
   */
  @PostMapping("/{id}/cancel")
  public Mono<ResponseEntity<BatchMessages.Batch>> cancel(
      @PathVariable String id, @AuthenticationPrincipal Caller caller) {
    return Blocking.call(() -> batches.cancel(id, caller))
        .map(view -> ResponseEntity.status(HttpStatus.ACCEPTED).body(view));
  }
}
