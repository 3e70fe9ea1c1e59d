package io.tempera.webhooks;

/** Attempt {@code number} of delivering {@code event}. */
public record WebhookPost(WebhookEvent event, int number) {}
