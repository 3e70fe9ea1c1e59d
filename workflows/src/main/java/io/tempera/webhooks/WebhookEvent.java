package io.tempera.webhooks;

import io.tempera.generation.GenerationResult;

/**
 * One event to deliver: what a receiver is told, and where. Its id is stable across delivery
 * attempts (the receiver's idempotency key: {@code Tempera-Event-Id}).
 *
 * @param id the event's id ({@code evt-<generation id>})
 * @param type {@code generation.succeeded}, {@code generation.failed} or {@code
 *     generation.cancelled}; for a batch {@code batch.completed} or {@code batch.cancelled}
 * @param createdAt when the generation ended (ISO-8601), the same in every attempt
 * @param projectId whose allow-list and signing secret apply
 * @param webhook where, and the retry schedule
 * @param generation the generation's terminal result (null in a batch's event)
 * @param batch the batch's terminal state, in a batch's event (null in a generation's: events
 *     recorded before batches have none)
 */
public record WebhookEvent(
    String id,
    String type,
    String createdAt,
    String projectId,
    Webhook webhook,
    GenerationResult generation,
    io.tempera.batch.BatchState batch) {

  /** A generation's event. */
  public WebhookEvent(
      String id,
      String type,
      String createdAt,
      String projectId,
      Webhook webhook,
      GenerationResult generation) {
    this(id, type, createdAt, projectId, webhook, generation, null);
  }

  /**
   * The event telling how batch {@code state} ended ({@code batch.completed} or {@code
   * batch.cancelled}), to {@code webhook}.
   */
  public static WebhookEvent ofBatch(
      io.tempera.batch.BatchState state, Webhook webhook, String createdAt) {
    return new WebhookEvent(
        "evt-" + state.batchId(),
        "batch." + state.status().name().toLowerCase(java.util.Locale.ROOT),
        createdAt,
        state.request().generation().projectId(),
        webhook,
        null,
        state);
  }

  /** The event telling how {@code result} ended, to {@code webhook}. */
  public static WebhookEvent ofGeneration(
      GenerationResult result, Webhook webhook, String createdAt) {
    return new WebhookEvent(
        "evt-" + result.generationId(),
        "generation." + result.status().name().toLowerCase(java.util.Locale.ROOT),
        createdAt,
        result.projectId(),
        webhook,
        result);
  }
}
