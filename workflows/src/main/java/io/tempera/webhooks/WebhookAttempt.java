package io.tempera.webhooks;

/**
 * One delivery attempt and how it went.
 *
 * @param number 1 for the first attempt
 * @param at when it was made (ISO-8601; the delivery workflow's clock)
 * @param httpStatus the receiver's HTTP status, or null when none came (refused, unreachable, timed
 *     out)
 * @param error what went wrong, in words (null when delivered)
 * @param delivered the receiver answered 2xx
 * @param retryable a later attempt may succeed (5xx, 408, 429, network trouble); false when the
 *     receiver refused the event (another 4xx, a redirect) or the URL is no longer allowed
 * @param retryAfterMillis what the receiver's {@code Retry-After} asked for, or null
 * @param durationMillis how long the attempt took
 */
public record WebhookAttempt(
    int number,
    String at,
    Integer httpStatus,
    String error,
    boolean delivered,
    boolean retryable,
    Long retryAfterMillis,
    long durationMillis) {

  /** The same attempt, made at {@code when} (the workflow's clock: the times in its state). */
  public WebhookAttempt madeAt(String when) {
    return new WebhookAttempt(
        number, when, httpStatus, error, delivered, retryable, retryAfterMillis, durationMillis);
  }

  /** The same attempt, delivered (the receiver answered 2xx). */
  public WebhookAttempt asDelivered() {
    return new WebhookAttempt(number, at, httpStatus, null, true, false, null, durationMillis);
  }

  /** An attempt whose activity never answered (its worker was lost, or it ran out of time). */
  public static WebhookAttempt unfinished(int number, String at, String why) {
    return new WebhookAttempt(number, at, null, why, false, true, null, 0);
  }
}
