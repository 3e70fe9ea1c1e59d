package io.tempera.webhooks;

import java.util.ArrayList;
import java.util.List;

/**
 * A delivery's attempts so far and what comes next: the delivery workflow's query and result.
 *
 * @param eventId the event's id
 * @param url the receiver
 * @param status where the delivery is
 * @param attempts every attempt, oldest first
 * @param nextAttemptAt when the next attempt is due (ISO-8601), while {@link
 *     WebhookDeliveryStatus#RETRYING}
 * @param reason why it failed, when {@link WebhookDeliveryStatus#FAILED}
 */
public record WebhookDeliveryState(
    String eventId,
    String url,
    WebhookDeliveryStatus status,
    List<WebhookAttempt> attempts,
    String nextAttemptAt,
    String reason) {

  public WebhookDeliveryState {
    attempts = attempts == null ? List.of() : List.copyOf(attempts);
  }

  public static WebhookDeliveryState pending(WebhookEvent event) {
    return new WebhookDeliveryState(
        event.id(), event.webhook().url(), WebhookDeliveryStatus.PENDING, List.of(), null, null);
  }

  WebhookDeliveryState with(WebhookAttempt attempt) {
    List<WebhookAttempt> all = new ArrayList<>(attempts);
    all.add(attempt);
    return new WebhookDeliveryState(eventId, url, status, all, null, null);
  }

  WebhookDeliveryState delivered() {
    return new WebhookDeliveryState(
        eventId, url, WebhookDeliveryStatus.DELIVERED, attempts, null, null);
  }

  WebhookDeliveryState retryingAt(String at) {
    return new WebhookDeliveryState(
        eventId, url, WebhookDeliveryStatus.RETRYING, attempts, at, null);
  }

  WebhookDeliveryState failed(String why) {
    return new WebhookDeliveryState(
        eventId, url, WebhookDeliveryStatus.FAILED, attempts, null, why);
  }
}
