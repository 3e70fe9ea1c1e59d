package io.tempera.webhooks;

import io.temporal.activity.ActivityInterface;

/**
 * Delivering a webhook event, one attempt at a time. Runs on the API's processes ({@link
 * WebhookDeliveryWorkflow#TASK_QUEUE}): they hold the projects' allow-lists and signing secrets and
 * sign output URLs.
 */
@ActivityInterface
public interface WebhookActivities {

  /**
   * POSTs the event once, signed with the project's secret, after checking its URL against the
   * project's allow-list and the address rules again; says how it went (never throws for what the
   * receiver or the network did).
   */
  WebhookAttempt post(WebhookPost post);
}
