package io.tempera.webhooks;

/**
 * Where a generation's (or, later, a batch's) terminal result is POSTed, as the API accepted it at
 * submit time: the URL passed the project's allow-list and the address rules then, and is checked
 * again at each delivery attempt.
 *
 * @param url the receiver, https (http only where the operator allowed it)
 * @param retry how long and how often a failing receiver is tried again (the API's settings when
 *     the request was accepted; a workflow keeps them, so a change of settings does not change a
 *     delivery already under way)
 */
public record Webhook(String url, WebhookRetry retry) {

  public Webhook {
    retry = retry == null ? WebhookRetry.DEFAULT : retry;
  }
}
