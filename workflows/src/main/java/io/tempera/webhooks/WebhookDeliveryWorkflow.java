package io.tempera.webhooks;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * Delivers one webhook event: POSTs it, and while the receiver fails, again after a growing wait (a
 * durable timer) until it answers 2xx, refuses the event (a 4xx other than 408 and 429) or the
 * retry schedule gives up. Started by a generation as an abandoned child once the generation ended,
 * so the generation completes as it would without a webhook; a batch starts it the same way.
 */
@WorkflowInterface
public interface WebhookDeliveryWorkflow {

  /** The queue deliveries run on: served by the API's processes. */
  String TASK_QUEUE = "tempera-webhooks";

  /** The delivery workflow's id for the event of {@code subjectId} (a generation or a batch). */
  static String idFor(String subjectId) {
    return "webhook-" + subjectId;
  }

  /** Delivers {@code event}; how the delivery ended (delivered, or failed and why). */
  @WorkflowMethod
  WebhookDeliveryState deliver(WebhookEvent event);

  /** The attempts so far and when the next is due. */
  @QueryMethod
  WebhookDeliveryState state();
}
