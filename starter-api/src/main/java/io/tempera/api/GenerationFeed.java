package io.tempera.api;

import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * One generation's story as a stream, for SSE and WebSocket alike: the current state first, then
 * live progress newer than what the client saw (latest wins when a client is slow), then the final
 * state once the workflow has ended. Completes after the final state.
 */
@Component
public class GenerationFeed {

  /** What a follower receives. */
  public sealed interface Event permits Snapshot, Live, Final {}

  /** The state when following began. */
  public record Snapshot(ApiMessages.Generation view) implements Event {}

  /** A progress or phase update from the worker. */
  public record Live(ProgressEvent event) implements Event {}

  /** The state once the generation ended. */
  public record Final(ApiMessages.Generation view) implements Event {}

  private final GenerationService generations;
  private final ProgressBus progress;

  /** How long live progress waits for the snapshot to go first. */
  static final Duration SNAPSHOT_GRACE = Duration.ofSeconds(2);

  /**
   * How often a follower asks Temporal whether its generation still runs, when the bus carries
   * ends: for an end whose notice was lost (or came before the follower subscribed), and for one
   * nobody announces (terminated from the Temporal UI, timed out).
   */
  static final Duration END_CHECK_EVERY = Duration.ofSeconds(10);

  private final Duration snapshotGrace;
  private final Duration endCheckEvery;

  @org.springframework.beans.factory.annotation.Autowired
  public GenerationFeed(GenerationService generations, ProgressBus progress) {
    this(generations, progress, SNAPSHOT_GRACE, END_CHECK_EVERY);
  }

  GenerationFeed(
      GenerationService generations,
      ProgressBus progress,
      Duration snapshotGrace,
      Duration endCheckEvery) {
    this.generations = generations;
    this.progress = progress;
    this.snapshotGrace = snapshotGrace;
    this.endCheckEvery = endCheckEvery;
  }

  /**
   * Follows a generation. {@code lastSeen} is the last progress sequence number the client already
   * has (0 for none): nothing at or before it is sent again.
   *
   * <p>The end is read from Temporal once it is near: when the bus brings the worker's notice that
   * the workflow ended, or a periodic check finds it ended ({@link #END_CHECK_EVERY}). A follower
   * thus holds no long poll on Temporal while its generation waits or runs (the in-process server
   * would hold a thread for each). On a bus that does not carry ends (an API without Redis and
   * without a worker in its process) it waits on Temporal for the end, as before.
   *
   * <p>The current state goes first; live progress (buffered from the moment of subscribing) waits
   * for it at most {@link #SNAPSHOT_GRACE}: under load a workflow query waits behind the worker's
   * backlog of workflow tasks, and a generation must not run to its end before its follower sees a
   * single update. A late snapshot goes out among the updates when it answers. Every progress event
   * sent is newer than everything sent before it (the snapshot carries the newest event id it
   * reflects), so a client never sees progress go back.
   */
  public Flux<Event> follow(String id, long lastSeen) {
    return Flux.defer(() -> {
      Sinks.Many<ProgressEvent> live = Sinks.many().unicast().onBackpressureBuffer();
      Sinks.Empty<Void> endNotice = Sinks.empty();
      AutoCloseable subscription =
          progress.subscribe(
              id,
              event -> {
                if (ProgressEvent.ENDED.equals(event.type())) {
                  endNotice.tryEmitEmpty();
                  return;
                }
                synchronized (live) {
                  live.tryEmitNext(event);
                }
              });
      Mono<Void> endIsNear =
          progress.carriesEnds()
              ? Mono.firstWithSignal(endNotice.asMono(), endFoundByChecking(id))
              : Mono.empty();
      Mono<ApiMessages.Generation> ended =
          endIsNear
              .then(Mono.fromFuture(() -> generations.result(id)))
              .onErrorResume(e -> Mono.empty())
              .then(Blocking.call(() -> generations.view(id)))
              .cache();
      Mono<Event> snapshot =
          Blocking.call(() -> generations.state(id))
              .<Event>map(state -> {
                ApiMessages.Generation view = generations.toView(state, progress.latest(id));
                return state.status().terminal() ? new Final(view) : new Snapshot(view);
              })
              .cache();
      Mono<Void> snapshotOrGrace =
          Mono.firstWithSignal(snapshot.then(), Mono.delay(snapshotGrace).then());
      Flux<Event> updates =
          live.asFlux()
              .onBackpressureLatest()
              .<Event>map(Live::new)
              .delaySubscription(snapshotOrGrace);
      long[] sent = {lastSeen}; // merge serialises its emissions: one writer at a time
      Flux<Event> story =
          Flux.merge(snapshot, updates)
              .filter(event ->
                  switch (event) {
                    case Live l -> {
                      if (l.event().seq() <= sent[0]) yield false;
                      sent[0] = l.event().seq();
                      yield true;
                    }
                    case Snapshot s -> {
                      sent[0] = Math.max(sent[0], s.view().eventId());
                      yield true;
                    }
                    case Final f -> true;
                  })
              .takeUntilOther(ended);
      return Flux.concat(story, ended.map(Final::new))
          .takeUntil(event -> event instanceof Final)
          .doFinally(signal -> close(subscription));
    });
  }

  /** Completes when a periodic check finds the generation's workflow no longer running. */
  private Mono<Void> endFoundByChecking(String id) {
    return Flux.interval(endCheckEvery)
        .concatMap(tick -> Blocking.call(() -> generations.running(id)).onErrorReturn(true))
        .filter(running -> !running)
        .next()
        .then();
  }

  /**
   * The fields of a live update as every client protocol shows them, after {@code lead} (the
   * protocol's own identifying fields).
   */
  public Map<String, Object> progressFields(Map<String, Object> lead, ProgressEvent event) {
    Map<String, Object> fields = new LinkedHashMap<>(lead);
    fields.put("phase", event.phase());
    fields.put("progress", event.progress());
    fields.put("message", event.message());
    if (event.step() != null) fields.put("step", event.step());
    if (event.totalSteps() != null) fields.put("totalSteps", event.totalSteps());
    if (event.queuePosition() != null) fields.put("queuePosition", event.queuePosition());
    if (event.etaSeconds() != null) fields.put("etaSeconds", event.etaSeconds());
    if (event.startsInSeconds() != null) fields.put("startsInSeconds", event.startsInSeconds());
    if (event.previewUrl() != null)
      fields.put("previewUrl", generations.signed(event.previewUrl()));
    fields.put("timestamp", event.timestampMillis());
    return fields;
  }

  /** Comments to keep idle connections open through proxies, until {@code until} ends. */
  public static Flux<Long> keepAlive(Flux<?> until) {
    return Flux.interval(Duration.ofSeconds(15)).takeUntilOther(until.then());
  }

  private static void close(AutoCloseable subscription) {
    try {
      subscription.close();
    } catch (Exception ignored) {
      // an in-memory subscription closes without failing
    }
  }
}
