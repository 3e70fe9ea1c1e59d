package io.tempera.api.webhooks;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.tempera.webhooks.WebhookAttempt;
import io.tempera.webhooks.WebhookDeliveryState;
import java.util.List;

/**
 * A generation's webhook in its REST state: where, how far its delivery is, every attempt.
 *
 * @param status PENDING (the generation has not ended, or its delivery not started yet), RETRYING,
 *     DELIVERED or FAILED
 * @param nextAttemptAt when the next attempt is due, while RETRYING
 * @param reason why it FAILED
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WebhookView(
    String url,
    String eventId,
    String status,
    List<Attempt> attempts,
    String nextAttemptAt,
    String reason) {

  /** One attempt: when, the receiver's HTTP status or what went wrong, how long it took. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Attempt(
      int number, String at, Integer httpStatus, String error, long durationMillis) {
    static Attempt of(WebhookAttempt attempt) {
      return new Attempt(
          attempt.number(),
          attempt.at(),
          attempt.httpStatus(),
          attempt.error(),
          attempt.durationMillis());
    }
  }

  static WebhookView of(WebhookDeliveryState state) {
    return new WebhookView(
        state.url(),
        state.eventId(),
        state.status().name(),
        state.attempts().stream().map(Attempt::of).toList(),
        state.nextAttemptAt(),
        state.reason());
  }

  static WebhookView pending(String url, String generationId) {
    return new WebhookView(url, "evt-" + generationId, "PENDING", List.of(), null, null);
  }
}
