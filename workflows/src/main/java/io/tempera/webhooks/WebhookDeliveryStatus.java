package io.tempera.webhooks;

/** Where a webhook delivery is. */
public enum WebhookDeliveryStatus {
  /** Not attempted yet. */
  PENDING,
  /** An attempt failed; another is due at {@code nextAttemptAt}. */
  RETRYING,
  /** The receiver answered 2xx. */
  DELIVERED,
  /** The receiver refused the event, or it failed until the retry schedule gave up. */
  FAILED;

  public boolean terminal() {
    return this == DELIVERED || this == FAILED;
  }
}
