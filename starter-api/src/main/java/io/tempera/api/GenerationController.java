package io.tempera.api;

import io.tempera.generation.GenerationState;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.Map;
import org.springframework.core.io.FileSystemResource;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** The generation routes: start, read, follow (SSE), download outputs, cancel. */
@RestController
@RequestMapping("/api/generations")
public class GenerationController {

  private final GenerationService generations;
  private final ProgressBus progress;

  public GenerationController(GenerationService generations, ProgressBus progress) {
    this.generations = generations;
    this.progress = progress;
  }

  @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
  public Mono<ResponseEntity<ApiMessages.Accepted>> start(@RequestBody ApiMessages.StartGeneration body) {
    return Blocking.call(() -> generations.start(body))
        .map(accepted -> ResponseEntity.status(HttpStatus.ACCEPTED)
            .header("Location", "/api/generations/" + accepted.id())
            .body(accepted));
  }

  @GetMapping("/{id}")
  public Mono<ApiMessages.Generation> get(@PathVariable String id) {
    return Blocking.call(() -> generations.view(id));
  }

  @PostMapping("/{id}/cancel")
  public Mono<ResponseEntity<ApiMessages.Generation>> cancel(@PathVariable String id) {
    return Blocking.call(() -> generations.cancel(id, "cancelled by the user"))
        .map(view -> ResponseEntity.status(HttpStatus.ACCEPTED).body(view));
  }

  @GetMapping("/{id}/outputs/{name}")
  public Mono<ResponseEntity<Resource>> output(@PathVariable String id, @PathVariable String name) {
    return Blocking.call(() -> generations.output(id, name))
        .map(entry -> ResponseEntity.ok()
            .contentType(MediaType.parseMediaType(entry.getKey().contentType()))
            .contentLength(entry.getKey().sizeBytes())
            .cacheControl(CacheControl.maxAge(Duration.ofDays(365)).cachePrivate().immutable())
            .body((Resource) new FileSystemResource(entry.getValue())));
  }

  /**
   * Server-sent events: first the current state ({@code state}), then live {@code progress} and
   * {@code phase} events, then one terminal event ({@code succeeded}, {@code failed} or
   * {@code cancelled}) carrying the final state. Event ids are the generation's progress sequence
   * numbers; a client reconnecting with Last-Event-ID gets only newer progress.
   */
  @GetMapping(value = "/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
  public Flux<ServerSentEvent<Object>> events(
      @PathVariable String id, @RequestHeader(value = "Last-Event-ID", required = false) String lastEventId) {
    long lastSeen = parseEventId(lastEventId);
    return Flux.defer(() -> {
      Sinks.Many<ProgressEvent> live = Sinks.many().unicast().onBackpressureBuffer();
      AutoCloseable subscription = progress.subscribe(id, event -> {
        synchronized (live) {
          live.tryEmitNext(event);
        }
      });
      Mono<ApiMessages.Generation> terminal =
          Mono.fromFuture(() -> generations.result(id))
              .onErrorResume(e -> Mono.empty())
              .then(Blocking.call(() -> generations.view(id)))
              .cache();
      return Blocking.call(() -> generations.state(id))
          .flatMapMany(state -> {
            ApiMessages.Generation first = generations.toView(state, progress.latest(id));
            if (state.status().terminal()) {
              return Flux.just(terminalEvent(first));
            }
            long after = Math.max(lastSeen, first.eventId());
            Flux<ServerSentEvent<Object>> updates =
                live.asFlux()
                    .onBackpressureLatest()
                    .filter(e -> e.seq() > after)
                    .map(GenerationController::progressEvent)
                    .takeUntilOther(terminal);
            Flux<ServerSentEvent<Object>> keepAlive =
                Flux.interval(Duration.ofSeconds(15)).map(i -> ServerSentEvent.builder().comment("keep-alive").build())
                    .takeUntilOther(terminal);
            return Flux.concat(
                Flux.just(ServerSentEvent.builder().event("state").id(Long.toString(first.eventId())).data((Object) first).build()),
                Flux.merge(updates, keepAlive),
                terminal.map(GenerationController::terminalEvent));
          })
          .doFinally(signal -> {
            try {
              subscription.close();
            } catch (Exception ignored) {
              // closing an in-memory subscription does not fail
            }
          });
    });
  }

  private static ServerSentEvent<Object> progressEvent(ProgressEvent event) {
    Map<String, Object> data = new java.util.LinkedHashMap<>();
    data.put("id", event.generationId());
    data.put("phase", event.phase());
    data.put("progress", event.progress());
    data.put("message", event.message());
    if (event.step() != null) data.put("step", event.step());
    if (event.totalSteps() != null) data.put("totalSteps", event.totalSteps());
    if (event.queuePosition() != null) data.put("queuePosition", event.queuePosition());
    data.put("timestamp", event.timestampMillis());
    return ServerSentEvent.builder().event(event.type()).id(Long.toString(event.seq())).data((Object) data).build();
  }

  private static ServerSentEvent<Object> terminalEvent(ApiMessages.Generation view) {
    return ServerSentEvent.builder()
        .event(view.status().toLowerCase(java.util.Locale.ROOT))
        .id(Long.toString(view.eventId()))
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
