package io.tempera.api;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A batch's progress as a stream, for SSE and the canvas WebSocket alike: an event each time its
 * counts moved, the last one its end.
 *
 * <p>Read by asking the batch's workflow for its state ({@link BatchService#event}) at most once a
 * second ({@link #EVERY}), one poll per batch shared by all of its followers in this process (made
 * for the first, stopped when the last leaves or the batch ended), rather than published by the
 * workflow: the batch's workflow stays as it is (no new activity, no version to replay), and an
 * ended batch, a batch started before this process, or one on another API process is followed the
 * same way. A batch's state changes only when one of its generations starts or ends, which the
 * counts show; a second's delay is well within what a progress bar needs.
 *
 * <p>Event ids increase with the batch's progress: variations started + ended, + 1 once it ended.
 * So a follower resuming after a drop with the last id it saw gets the current counts only if they
 * moved since, and the end once.
 */
@Component
public class BatchFeed {

  /** How often a followed batch's state is read, at most. */
  static final Duration EVERY = Duration.ofSeconds(1);

  private final BatchService batches;
  private final Duration every;

  /** The shared poll of each batch that has followers, by batch id. */
  private final Map<String, Flux<BatchMessages.Event>> polls = new ConcurrentHashMap<>();

  /** States read so far (for tests: several followers share one poll). */
  final AtomicLong reads = new AtomicLong();

  @Autowired
  public BatchFeed(BatchService batches) {
    this(batches, EVERY);
  }

  BatchFeed(BatchService batches, Duration every) {
    this.batches = batches;
    this.every = every;
  }

  /** Whether the event is the batch's last (it ended). */
  public static boolean terminal(BatchMessages.Event event) {
    return !"RUNNING".equals(event.status());
  }

  /**
   * Follows a batch (its access checked by the caller): its current counts first (unless the client
   * has them: {@code lastSeen} is the last event id it saw, 0 for none), then each change, then its
   * end. Completes after the end.
   */
  public Flux<BatchMessages.Event> follow(String id, long lastSeen) {
    return Flux.defer(() -> polls.computeIfAbsent(id, this::poll))
        .filter(event -> event.eventId() > lastSeen)
        .takeUntil(BatchFeed::terminal);
  }

  /** How many batches have a poll running (followers): for tests. */
  int pollsOpen() {
    return polls.size();
  }

  private Flux<BatchMessages.Event> poll(String id) {
    AtomicReference<Flux<BatchMessages.Event>> self = new AtomicReference<>();
    long[] last = {-1}; // one tick at a time (concatMap): one writer
    Flux<BatchMessages.Event> poll =
        Flux.interval(Duration.ZERO, every)
            .onBackpressureDrop() // a slow read skips ticks, never queues them
            .concatMap(tick ->
                Blocking.call(
                        () -> {
                          reads.incrementAndGet();
                          return batches.event(id);
                        })
                    // the orchestrator did not answer this time (no worker yet, a restart): the
                    // next tick asks again
                    .onErrorResume(unanswered -> Mono.empty()))
            .filter(event -> {
              if (event.eventId() <= last[0]) {
                return false;
              }
              last[0] = event.eventId();
              return true;
            })
            .takeUntil(BatchFeed::terminal)
            .doFinally(signal -> polls.remove(id, self.get()))
            .replay(1)
            .refCount();
    self.set(poll);
    return poll;
  }
}
