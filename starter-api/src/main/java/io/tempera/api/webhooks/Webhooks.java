package io.tempera.api.webhooks;

import io.tempera.api.ApiException;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveryState;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowStub;
import java.net.URI;
import java.util.Map;
import java.util.Optional;
import org.springframework.http.HttpStatus;

/**
 * The API's side of webhooks: a submitted webhook accepted (or refused with a 422 saying why) and a
 * generation's delivery read for its REST state.
 */
public final class Webhooks {

  /** The generation memo key holding its webhook's URL (so its state shows it before delivery). */
  public static final String MEMO_WEBHOOK = "webhook";

  private static final int KEPT = 10_000;

  /** Remembers a generation that ended without a webhook. */
  private static final WebhookView NONE =
      new WebhookView(null, null, null, java.util.List.of(), null, null);

  private final WebhookRules rules;
  private final WorkflowClient client;

  /** Deliveries that ended, by generation (an ended delivery never changes). */
  private final Map<String, WebhookView> ended =
      java.util.Collections.synchronizedMap(
          new java.util.LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, WebhookView> eldest) {
              return size() > KEPT;
            }
          });

  public Webhooks(WebhookRules rules, WorkflowClient client) {
    this.rules = rules;
    this.client = client;
  }

  /**
   * The webhook {@code url} of a generation of {@code projectId}, as its workflow keeps it; a 422
   * with a code ({@code WEBHOOK_INVALID_URL}, {@code WEBHOOK_NOT_ALLOWED}, {@code
   * WEBHOOK_UNRESOLVABLE}, {@code WEBHOOK_ADDRESS_FORBIDDEN}) when it may not be used.
   */
  public Webhook accept(String projectId, String url) {
    try {
      URI uri = rules.check(projectId, url);
      rules.resolve(WebhookHosts.normaliseHost(uri.getHost()));
      return new Webhook(url, rules.properties().retry());
    } catch (WebhookRules.Refused refused) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT, refused.code(), refused.getMessage());
    }
  }

  /**
   * The webhook delivery of generation {@code id}: attempts so far, or PENDING until the generation
   * ended; empty when it names no webhook.
   *
   * @param generationEnded whether the generation ended (one that ended without a webhook is
   *     remembered as such)
   * @param memoUrl the webhook URL in the generation's memo (read only when needed)
   */
  public Optional<WebhookView> view(
      String id, boolean generationEnded, java.util.function.Supplier<String> memoUrl) {
    WebhookView known = ended.get(id);
    if (known != null) {
      return known == NONE ? Optional.empty() : Optional.of(known);
    }
    String url = memoUrl.get();
    if (url == null) {
      if (generationEnded) {
        ended.put(id, NONE);
      }
      return Optional.empty();
    }
    WorkflowStub delivery = client.newUntypedWorkflowStub(WebhookDeliveryWorkflow.idFor(id));
    WorkflowExecutionStatus status;
    try {
      status = delivery.describe().getStatus();
    } catch (RuntimeException e) {
      if (io.tempera.api.GenerationService.isNotFound(e)) {
        return Optional.of(WebhookView.pending(url, id));
      }
      throw e;
    }
    if (status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      WebhookDeliveryState state = delivery.query("state", WebhookDeliveryState.class);
      return Optional.of(state == null ? WebhookView.pending(url, id) : WebhookView.of(state));
    }
    if (status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
      WebhookView view = WebhookView.of(delivery.getResult(WebhookDeliveryState.class));
      ended.put(id, view);
      return Optional.of(view);
    }
    // terminated or timed out by an operator: no attempts to show beyond that
    WebhookView stopped =
        new WebhookView(
            url,
            "evt-" + id,
            "FAILED",
            java.util.List.of(),
            null,
            "The delivery was stopped by an operator");
    ended.put(id, stopped);
    return Optional.of(stopped);
  }
}
