package io.tempera.api;

import io.tempera.progress.ProgressEvent;
import io.tempera.security.Caller;
import java.time.Duration;
import java.util.Map;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
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

/** The generation routes: start, read, follow (SSE), download outputs, cancel. */
@RestController
@RequestMapping("/api/generations")
public class GenerationController {

  /** The default of {@code tempera.limits.max-json-bytes}: 1 MiB. */
  static final long DEFAULT_MAX_JSON_BYTES = 1024 * 1024;

  private final GenerationService generations;
  private final GenerationFeed feed;
  private final int maxJsonBytes;
  private final io.tempera.security.ConnectionLimits connections;

  public GenerationController(
      GenerationService generations,
      GenerationFeed feed,
      io.tempera.security.ConnectionLimits connections,
      @org.springframework.beans.factory.annotation.Value(
              "${tempera.limits.max-json-bytes:" + DEFAULT_MAX_JSON_BYTES + "}")
          long maxJsonBytes) {
    this.generations = generations;
    this.feed = feed;
    this.connections = connections;
    this.maxJsonBytes = (int) Math.min(Math.max(maxJsonBytes, 1), Integer.MAX_VALUE - 8);
  }

  /**
   * Starts a generation. The body is read strictly ({@link StrictJson}): at most {@code
   * tempera.limits.max-json-bytes} (413 {@code PAYLOAD_TOO_LARGE} past it, refused before it is
   * read when its Content-Length says so), ids as JSON strings, no unknown fields.
   */
  @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
  @io.swagger.v3.oas.annotations.parameters.RequestBody(
      required = true,
      content =
          @io.swagger.v3.oas.annotations.media.Content(
              mediaType = MediaType.APPLICATION_JSON_VALUE,
              schema =
                  @io.swagger.v3.oas.annotations.media.Schema(
                      implementation = ApiMessages.StartGeneration.class)))
  public Mono<ResponseEntity<ApiMessages.Accepted>> start(
      ServerHttpRequest request, @AuthenticationPrincipal Caller caller) {
    return StrictJson.body(request, maxJsonBytes)
        .map(json -> StrictJson.startGeneration(json, StrictJson.START_FIELDS, Map.of()))
        .flatMap(body -> Blocking.call(() -> generations.start(body, caller)))
        .map(accepted ->
            ResponseEntity.status(HttpStatus.ACCEPTED)
                .header("Location", "/api/generations/" + accepted.id())
                .body(accepted));
  }

  /** What a generation id looks like; anything else names no generation. */
  private static final java.util.regex.Pattern GENERATION_ID =
      java.util.regex.Pattern.compile("gen-[A-Za-z0-9_-]{1,120}");

  /** The answer to an id that cannot be a generation's: not echoed back. */
  private static ApiException noSuchGeneration() {
    return ApiException.notFound(
        "There is no generation with this id (generation ids look like gen-…)");
  }

  @GetMapping("/{id}")
  public Mono<ApiMessages.Generation> get(
      @PathVariable String id, @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Mono.error(noSuchGeneration());
    }
    return Blocking.call(() -> generations.view(id, caller));
  }

  @PostMapping("/{id}/cancel")
  public Mono<ResponseEntity<ApiMessages.Generation>> cancel(
      @PathVariable String id, @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Mono.error(noSuchGeneration());
    }
    return Blocking.call(() -> generations.cancel(id, "cancelled by the user", caller))
        .map(view -> ResponseEntity.status(HttpStatus.ACCEPTED).body(view));
  }

  /**
   * An output's file, for a key of its project or by a signed URL (the {@code url} a generation's
   * view gives, which works without a key until it expires).
   */
  @GetMapping("/{id}/outputs/{name}")
  public Mono<ResponseEntity<Resource>> output(
      @PathVariable String id,
      @PathVariable String name,
      @RequestParam(required = false) String expires,
      @RequestParam(required = false) String signature,
      @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Mono.error(noSuchGeneration());
    }
    Caller scope;
    try {
      scope = scope(caller, "/api/generations/" + id + "/outputs/" + name, expires, signature);
    } catch (ApiException e) {
      return Mono.error(e);
    }
    return Blocking.call(() -> generations.output(id, name, scope))
        .map(entry ->
            ResponseEntity.ok()
                .contentType(MediaType.parseMediaType(entry.getKey().contentType()))
                .contentLength(entry.getKey().sizeBytes())
                .cacheControl(CacheControl.maxAge(Duration.ofDays(365)).cachePrivate().immutable())
                .body(
                    (Resource)
                        new NoFollowFileResource(entry.getValue(), entry.getKey().sizeBytes())));
  }

  /** The latest preview image of a running generation (404 when the backend sent none). */
  @GetMapping("/{id}/preview")
  public Mono<ResponseEntity<Resource>> preview(
      @PathVariable String id,
      @RequestParam(required = false) String expires,
      @RequestParam(required = false) String signature,
      @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Mono.error(noSuchGeneration());
    }
    Caller scope;
    try {
      scope = scope(caller, "/api/generations/" + id + "/preview", expires, signature);
    } catch (ApiException e) {
      return Mono.error(e);
    }
    return Blocking.call(() -> {
      java.nio.file.Path file = generations.preview(id, scope);
      byte[] bytes;
      try (java.io.InputStream in = new NoFollowFileResource(file, -1).getInputStream()) {
        bytes = in.readAllBytes();
      }
      return ResponseEntity.ok()
          .contentType(MediaType.parseMediaType(io.tempera.outputs.OutputStore.contentType(file)))
          .cacheControl(CacheControl.noStore())
          .body((Resource) new org.springframework.core.io.ByteArrayResource(bytes));
    });
  }

  /**
   * Whose download this is: null when a valid signature grants {@code path} (no project check
   * needed: the signature names the file), else the caller's key, which must be there.
   */
  private Caller scope(Caller caller, String path, String expires, String signature) {
    if ((expires != null || signature != null) && generations.grants(path, expires, signature)) {
      return null;
    }
    if (caller == null) {
      throw unauthenticated(
          expires != null || signature != null, "read the generation again for a fresh one");
    }
    return caller;
  }

  /**
   * The answer to a download without a key: its link has expired or is not valid ({@code signed};
   * {@code fresh} says how to get a fresh one), or it has no link and no key.
   */
  static ApiException unauthenticated(boolean signed, String fresh) {
    return new ApiException(
        HttpStatus.UNAUTHORIZED,
        "UNAUTHENTICATED",
        signed
            ? "This link has expired or is not valid; " + fresh
            : "This request needs an API key: send it as 'Authorization: Bearer <key>'");
  }

  /**
   * Server-sent events: first the current state ({@code state}), then live {@code progress} and
   * {@code phase} events, then one terminal event ({@code succeeded}, {@code failed} or {@code
   * cancelled}) carrying the final state. Event ids are the generation's progress sequence numbers;
   * a client reconnecting with Last-Event-ID gets only newer progress.
   */
  @GetMapping(value = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
  public Flux<ServerSentEvent<Object>> events(
      @PathVariable String id,
      @RequestHeader(value = "Last-Event-ID", required = false) String lastEventId,
      @AuthenticationPrincipal Caller caller) {
    if (!GENERATION_ID.matcher(id).matches()) {
      return Flux.error(noSuchGeneration());
    }
    java.util.Optional<io.tempera.security.ConnectionLimits.Held> held = connections.open(caller);
    if (held.isEmpty()) {
      return Flux.error(tooManyConnections(connections.perKey()));
    }
    Flux<ServerSentEvent<Object>> events =
        Blocking.call(
                () -> {
                  generations.requireAccess(id, caller);
                  return id;
                })
            .flatMapMany(ok -> feed.follow(id, parseEventId(lastEventId)))
            .map(event ->
                switch (event) {
                  case GenerationFeed.Snapshot s ->
                      ServerSentEvent.builder()
                          .event("state")
                          .id(Long.toString(s.view().eventId()))
                          .data((Object) s.view())
                          .build();
                  case GenerationFeed.Live l -> progressEvent(feed, l.event());
                  case GenerationFeed.Final f -> terminalEvent(f.view());
                })
            .share();
    Flux<ServerSentEvent<Object>> keepAlive =
        GenerationFeed.keepAlive(events)
            .map(i -> ServerSentEvent.builder().comment("keep-alive").build());
    return Flux.merge(events, keepAlive).doFinally(signal -> held.get().close());
  }

  /** The answer to a key holding the most following connections it may. */
  static ApiException tooManyConnections(int perKey) {
    return new ApiException(
        HttpStatus.TOO_MANY_REQUESTS,
        "TOO_MANY_CONNECTIONS",
        "This key already follows on "
            + perKey
            + " connections (SSE streams and canvas sockets); close one first"
            + " (tempera.limits.max-connections-per-key)");
  }

  private static ServerSentEvent<Object> progressEvent(GenerationFeed feed, ProgressEvent event) {
    Map<String, Object> data = feed.progressFields(Map.of("id", event.generationId()), event);
    return ServerSentEvent.builder()
        .event(event.type())
        .id(Long.toString(event.seq()))
        .data((Object) data)
        .build();
  }

  /**
   * The final state, numbered one past the generation's last progress event (it reused that event's
   * id, so a client that drops an id it has seen lost the end).
   */
  private static ServerSentEvent<Object> terminalEvent(ApiMessages.Generation view) {
    return ServerSentEvent.builder()
        .event(view.status().toLowerCase(java.util.Locale.ROOT))
        .id(Long.toString(view.eventId() + 1))
        .data((Object) view)
        .build();
  }

  private static long parseEventId(String header) {
    if (header == null || header.isBlank()) {
      return 0;
    }
    try {
      return Long.parseLong(header.trim());
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
