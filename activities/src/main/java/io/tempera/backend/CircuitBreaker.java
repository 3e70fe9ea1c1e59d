package io.tempera.backend;

import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;

/**
 * A circuit breaker for one backend endpoint: after {@code threshold} failures in a row it opens
 * and the endpoint is skipped for {@code coolDown}; then one call is let through as a probe
 * (half-open): success closes it, failure opens it again.
 */
public final class CircuitBreaker {

  public enum State {
    CLOSED,
    OPEN,
    HALF_OPEN
  }

  private final int threshold;
  private final Duration coolDown;
  private final Clock clock;
  private State state = State.CLOSED;
  private int failures;
  private long openedAt;
  private boolean probing;

  public CircuitBreaker(int threshold, Duration coolDown, Clock clock) {
    this.threshold = threshold;
    this.coolDown = coolDown;
    this.clock = clock;
  }

  /**
   * The first of a backend's endpoints whose breaker lets a call through; fails retryably with
   * BACKEND_UNREACHABLE, saying when the next one is probed, while every breaker is open.
   *
   * @param backend the backend's name for the message, e.g. "ComfyUI"
   */
  public static <E> E firstAllowed(
      List<E> endpoints, Function<E, CircuitBreaker> breaker, String backend) {
    for (E endpoint : endpoints) {
      if (breaker.apply(endpoint).allow()) {
        return endpoint;
      }
    }
    long wait =
        endpoints.stream().mapToLong(e -> breaker.apply(e).millisUntilProbe()).min().orElse(0);
    throw ApplicationFailure.newFailure(
        "All "
            + endpoints.size()
            + " "
            + backend
            + " endpoints are failing; the next is tried again in "
            + (wait / 1000 + 1)
            + " s",
        ErrorCode.BACKEND_UNREACHABLE.name());
  }

  /** Whether a call may go to the endpoint now (a half-open breaker lets one probe through). */
  public synchronized boolean allow() {
    if (state == State.OPEN && clock.millis() - openedAt >= coolDown.toMillis()) {
      state = State.HALF_OPEN;
      probing = false;
    }
    return switch (state) {
      case CLOSED -> true;
      case OPEN -> false;
      case HALF_OPEN -> {
        if (probing) {
          yield false;
        }
        probing = true;
        yield true;
      }
    };
  }

  /**
   * The endpoint answered a probe while its breaker was open: the next call goes through (its
   * outcome closes the breaker, or opens it again), without waiting out the cool-down.
   */
  public synchronized void halfOpen() {
    if (state != State.CLOSED) {
      state = State.HALF_OPEN;
      probing = true; // the caller's run is the probe
    }
  }

  public synchronized void onSuccess() {
    state = State.CLOSED;
    failures = 0;
    probing = false;
  }

  public synchronized void onFailure() {
    failures++;
    if (state == State.HALF_OPEN || failures >= threshold) {
      state = State.OPEN;
      openedAt = clock.millis();
      probing = false;
    }
  }

  public synchronized State state() {
    if (state == State.OPEN && clock.millis() - openedAt >= coolDown.toMillis()) {
      return State.HALF_OPEN;
    }
    return state;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now). */
  public synchronized long millisUntilProbe() {
    return state == State.OPEN ? Math.max(0, coolDown.toMillis() - (clock.millis() - openedAt)) : 0;
  }
}
