package io.tempera.activities.run;

import java.time.Clock;
import java.time.Instant;
import java.util.Optional;

/**
 * Whether this host's backends are doing their work: a backend that takes runs and never progresses
 * (a wedged executor, a dead GPU process behind a live port) trips a run's watchdog ({@link
 * RunWatchdog}: stalled, or stuck in its queue); the host is then not ready until a run progresses
 * again. Its readiness check tells operators and load balancers, where a health check of an open
 * port would say all is well. Thread-safe; progress is one volatile read on the hot path.
 */
public final class BackendHealth {

  /**
   * A run stopped because its backend did nothing.
   *
   * @param generationId the generation it was for
   * @param trip how: STALLED (running, no sign of progress) or QUEUE_WAIT (never left the backend's
   *     queue)
   * @param reason the watchdog's sentence
   * @param at when
   */
  public record Stall(String generationId, String trip, String reason, Instant at) {}

  private final Clock clock;
  private volatile Stall stall;

  public BackendHealth() {
    this(Clock.systemUTC());
  }

  BackendHealth(Clock clock) {
    this.clock = clock;
  }

  /** A run's watchdog found its backend doing nothing. */
  void stalled(String generationId, String trip, String reason) {
    stall = new Stall(generationId, trip, reason, clock.instant());
  }

  /** A backend reported progress: it works. */
  void progressed() {
    if (stall != null) {
      stall = null;
    }
  }

  /** The last stall, while no run has progressed since. */
  public Optional<Stall> stalled() {
    return Optional.ofNullable(stall);
  }
}
