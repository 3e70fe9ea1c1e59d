package io.tempera.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** The batch routes' messages. */
public final class BatchMessages {

  private BatchMessages() {}

  /** A batch started (or found again by its requestId): its id, status and size. */
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchAccepted")
  public record Accepted(String id, String status, int total) {}

  /**
   * Where a batch is.
   *
   * @param status RUNNING, COMPLETED or CANCELLED (FAILED: its workflow was stopped otherwise)
   * @param progress how many of its variations are where
   * @param quotaWait why its next generation waits to start, when it does
   * @param results one page of its variations, by index
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @io.swagger.v3.oas.annotations.media.Schema(name = "Batch")
  public record Batch(
      String id,
      String status,
      String functionId,
      String functionVersion,
      String projectId,
      String nodeId,
      String tier,
      String priority,
      int count,
      Map<String, List<Object>> sweep,
      int maxInFlight,
      Progress progress,
      QuotaWait quotaWait,
      Page results,
      io.tempera.api.webhooks.WebhookView webhook) {

    Batch withWebhook(io.tempera.api.webhooks.WebhookView view) {
      return new Batch(
          id,
          status,
          functionId,
          functionVersion,
          projectId,
          nodeId,
          tier,
          priority,
          count,
          sweep,
          maxInFlight,
          progress,
          quotaWait,
          results,
          view);
    }
  }

  /**
   * @param waiting not started yet (the batch starts them as its window and the quotas allow)
   * @param queued started, waiting for a GPU
   * @param running holding a GPU
   */
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchProgress")
  public record Progress(
      int total, int waiting, int queued, int running, int succeeded, int failed, int cancelled) {}

  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchQuotaWait")
  public record QuotaWait(String code, String message, String until) {}

  /** Variations {@code offset} to {@code offset + items.size() - 1} of {@code total}. */
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchPage")
  public record Page(int offset, int limit, int total, List<Item> items) {}

  /**
   * One variation.
   *
   * @param status WAITING (not started), QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED
   * @param parameters what it sets over the batch's parameters: its sweep values and drawn seeds
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchItem")
  public record Item(
      int index,
      String generationId,
      String status,
      Map<String, Object> parameters,
      List<Output> outputs,
      Error error) {}

  /**
   * One batch in a project's list of batches.
   *
   * @param status RUNNING, COMPLETED, CANCELLED or FAILED
   * @param total its variations (null, as its counts, when its state could not be read now)
   * @param progress how many of its variations are where (in flight: started, not ended)
   * @param createdAt when it was started (ISO-8601, UTC)
   * @param endedAt when it ended (null while it runs)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchSummary")
  public record Summary(
      String id,
      String status,
      String functionId,
      String nodeId,
      Integer total,
      Counts progress,
      String createdAt,
      String endedAt) {}

  /** A listed batch's counts, read from its own state (no question to its generations). */
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchCounts")
  public record Counts(
      int total, int waiting, int inFlight, int succeeded, int failed, int cancelled) {}

  /**
   * A batch's progress as it is followed (SSE {@code GET /api/batches/{id}/events}, the canvas
   * socket's {@code batch_progress} and {@code batch_ended}).
   *
   * @param eventId increases as the batch moves: its variations started + ended, + 1 once it ended
   * @param status RUNNING, then COMPLETED, CANCELLED or FAILED in its last event
   * @param quotaWait why its next generation waits to start, when it does
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchEvent")
  public record Event(
      String batchId, long eventId, String status, Counts progress, QuotaWait quotaWait) {}

  /** A page of batches and the cursor of the next one (null: this was the last). */
  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchList")
  public record Listed(List<Summary> items, String nextCursor) {}

  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchOutput")
  public record Output(String name, String url, String contentType) {}

  @io.swagger.v3.oas.annotations.media.Schema(name = "BatchError")
  public record Error(String code, String message) {}
}
