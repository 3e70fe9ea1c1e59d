package io.tempera.api;

import io.tempera.generation.GenerationState;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * One generation's story as a stream, for SSE and WebSocket alike: the current state first, then
 * live progress newer than what the client saw (latest wins when a client is slow), then the final
 * state once the workflow has ended. Completes after the final state.
 *
 * <p>All followers of a generation share one upstream ({@link Upstream}): one subscription to its
 * progress on the bus, one watch for its end (the worker's notice or the periodic check), one read
 * of its result and one final view, made for the first follower and closed when the last leaves.
 * Each follower keeps its own snapshot, its own buffer of progress and its own filter of what it
 * already has, so a thousand followers of one generation cost the orchestrator what one does.
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
   * How often a followed generation's upstream asks Temporal whether it still runs, when the bus
   * carries ends: for an end whose notice was lost (or came before the first follower subscribed),
   * and for one nobody announces (terminated from the Temporal UI, timed out).
   */
  static final Duration END_CHECK_EVERY = Duration.ofSeconds(10);

  private final Duration snapshotGrace;
  private final Duration endCheckEvery;

  /** The shared upstream of each generation that has followers, by generation id. */
  private final Map<String, Upstream> upstreams = new ConcurrentHashMap<>();

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
   * the workflow ended, or a periodic check finds it ended ({@link #END_CHECK_EVERY}). The
   * generation's followers thus hold no long poll on Temporal while it waits or runs (the
   * in-process server would hold a thread for each), and read its end once, together. On a bus that
   * does not carry ends (an API without Redis and without a worker in its process) one wait on
   * Temporal for the end serves them all.
   *
   * <p>The current state goes first; live progress (buffered from the moment of subscribing) waits
   * for it at most {@link #SNAPSHOT_GRACE}: under load a workflow query waits behind the worker's
   * backlog of workflow tasks, and a generation must not run to its end before its follower sees a
   * single update. A late snapshot goes out among the updates when it answers. Every progress event
   * sent is newer than everything sent before it (the snapshot carries the newest event id it
   * reflects), so a client never sees progress go back. Followers arriving together share one state
   * query (the one in flight when they subscribe); each lays the newest progress over it itself.
   */
  public Flux<Event> follow(String id, long lastSeen) {
    return Flux.defer(() -> {
      Sinks.Many<ProgressEvent> live = Sinks.many().unicast().onBackpressureBuffer();
      Upstream upstream = join(id, live);
      Mono<ApiMessages.Generation> ended = upstream.end.asMono();
      Mono<Event> snapshot =
          upstream
              .state()
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
          .doFinally(signal -> leave(upstream, live));
    });
  }

  /**
   * Counts a follower in on its generation's upstream, made and opened for the first, and gives it
   * {@code live}: from now on the follower's progress is buffered there.
   */
  private Upstream join(String id, Sinks.Many<ProgressEvent> live) {
    while (true) {
      Upstream upstream = upstreams.computeIfAbsent(id, Upstream::new);
      if (upstream.join()) {
        upstream.addFollower(live);
        upstream.open();
        return upstream;
      }
      upstreams.remove(id, upstream); // its last follower just left: a new one
    }
  }

  /** Counts a follower out; the last one closes the upstream. */
  private void leave(Upstream upstream, Sinks.Many<ProgressEvent> live) {
    upstream.removeFollower(live);
    if (upstream.leave()) {
      upstreams.remove(upstream.id, upstream);
      upstream.close();
    }
  }

  /** How many generations have an upstream open (followers): for tests. */
  int upstreamsOpen() {
    return upstreams.size();
  }

  /**
   * What all followers of one generation share: its progress subscription on the bus (handed to
   * each follower's own buffer), the watch for its end and the final view it yields, and the state
   * query in flight.
   */
  private final class Upstream {

    final String id;

    /** Followers counted in. */
    private int followers;

    /** Each follower's buffer of live progress. */
    private final Set<Sinks.Many<ProgressEvent>> buffers = ConcurrentHashMap.newKeySet();

    /** The worker's notice that the workflow ended. */
    private final Sinks.Empty<Void> endNotice = Sinks.empty();

    /** The final view once the generation ended: given to every follower, late ones too. */
    final Sinks.One<ApiMessages.Generation> end = Sinks.one();

    private AutoCloseable subscription;
    private Disposable endWatch;
    private boolean opened;
    private boolean closed;
    private Mono<GenerationState> stateInFlight;

    Upstream(String id) {
      this.id = id;
    }

    /** Counts a follower in, unless the last one has left already. */
    synchronized boolean join() {
      if (closed) {
        return false;
      }
      followers++;
      return true;
    }

    /** Counts a follower out: whether it was the last (the upstream is then closed). */
    synchronized boolean leave() {
      closed = --followers == 0;
      return closed;
    }

    void addFollower(Sinks.Many<ProgressEvent> buffer) {
      buffers.add(buffer);
    }

    void removeFollower(Sinks.Many<ProgressEvent> buffer) {
      buffers.remove(buffer);
    }

    /** Subscribes to the bus and starts watching for the end, once. */
    synchronized void open() {
      if (opened || closed) {
        return;
      }
      opened = true;
      subscription = progress.subscribe(id, this::deliver);
      Mono<Void> endIsNear =
          progress.carriesEnds()
              ? Mono.firstWithSignal(endNotice.asMono(), endFoundByChecking(id))
              : Mono.empty();
      endWatch =
          endIsNear
              .then(Mono.fromFuture(() -> generations.result(id)))
              .onErrorResume(e -> Mono.empty())
              .then(Blocking.call(() -> generations.view(id)))
              .subscribe(
                  end::tryEmitValue,
                  error -> {
                    // those following now get the error; who comes next gets a new upstream
                    upstreams.remove(id, this);
                    end.tryEmitError(error);
                  });
    }

    /** One bus event, handed to every follower's buffer (one event at a time). */
    private void deliver(ProgressEvent event) {
      if (ProgressEvent.ENDED.equals(event.type())) {
        endNotice.tryEmitEmpty();
        return;
      }
      synchronized (buffers) {
        for (Sinks.Many<ProgressEvent> buffer : buffers) {
          buffer.tryEmitNext(event);
        }
      }
    }

    /**
     * The generation's state: the query in flight when asked, shared by everyone who asks while it
     * runs, else a new one.
     */
    synchronized Mono<GenerationState> state() {
      if (stateInFlight == null) {
        Mono<GenerationState> query =
            Blocking.call(() -> generations.state(id))
                .doOnEach(signal -> {
                  if (!signal.isOnNext()) {
                    stateAnswered();
                  }
                })
                .cache();
        stateInFlight = query;
      }
      return stateInFlight;
    }

    private synchronized void stateAnswered() {
      stateInFlight = null;
    }

    synchronized void close() {
      if (endWatch != null) {
        endWatch.dispose();
      }
      if (subscription != null) {
        GenerationFeed.close(subscription);
      }
    }
  }

  /** Completes when a periodic check finds the generation's workflow no longer running. */
  private Mono<Void> endFoundByChecking(String id) {
    return Flux.interval(endCheckEvery)
        // a tick while a check is still out (Temporal slow or away) is dropped: without this the
        // ticks queued behind slow checks overflowed the interval after 32, and the error ended
        // every follower's stream and split the generation's upstream in two
        .onBackpressureDrop()
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
    if (event.waitingFor() != null) {
      Map<String, Object> waiting = new LinkedHashMap<>();
      waiting.put("for", event.waitingFor());
      if (event.queuePosition() != null) waiting.put("position", event.queuePosition());
      if (event.startsInSeconds() != null) waiting.put("startsInSeconds", event.startsInSeconds());
      fields.put("waiting", waiting);
    }
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
