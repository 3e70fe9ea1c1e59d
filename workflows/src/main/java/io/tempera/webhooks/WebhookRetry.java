package io.tempera.webhooks;

import java.time.Duration;

/**
 * The backoff between delivery attempts: {@code initialIntervalMillis}, doubled after each failed
 * attempt up to {@code maximumIntervalMillis} (with up to 20% of deterministic jitter), until
 * {@code giveUpAfterMillis} have passed since the first attempt.
 */
public record WebhookRetry(
    long initialIntervalMillis, long maximumIntervalMillis, long giveUpAfterMillis) {

  /** 1 s, doubling up to 5 min, for 24 h. */
  public static final WebhookRetry DEFAULT =
      new WebhookRetry(
          Duration.ofSeconds(1).toMillis(),
          Duration.ofMinutes(5).toMillis(),
          Duration.ofHours(24).toMillis());

  public WebhookRetry {
    if (initialIntervalMillis <= 0 || maximumIntervalMillis < initialIntervalMillis) {
      throw new IllegalArgumentException(
          "a webhook retry needs 0 < initial interval <= maximum interval");
    }
    if (giveUpAfterMillis < 0) {
      throw new IllegalArgumentException("a webhook retry's give-up time cannot be negative");
    }
  }

  public static WebhookRetry of(Duration initial, Duration maximum, Duration giveUpAfter) {
    return new WebhookRetry(initial.toMillis(), maximum.toMillis(), giveUpAfter.toMillis());
  }

  /**
   * The wait after failed attempt {@code number} (1-based) before jitter: the initial interval
   * doubled {@code number - 1} times, at most the maximum.
   */
  public long backoffMillis(int number) {
    long wait = initialIntervalMillis;
    for (int i = 1; i < number && wait < maximumIntervalMillis; i++) {
      wait = wait * 2;
    }
    return Math.min(wait, maximumIntervalMillis);
  }
}
