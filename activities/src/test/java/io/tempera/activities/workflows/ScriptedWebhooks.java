package io.tempera.activities.workflows;

import io.tempera.webhooks.WebhookActivities;
import io.tempera.webhooks.WebhookAttempt;
import io.tempera.webhooks.WebhookPost;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** A receiver scripted by status: records every post and answers as the test says. */
class ScriptedWebhooks implements WebhookActivities {

  final List<WebhookPost> posts = new CopyOnWriteArrayList<>();

  /** The HTTP status of each attempt by its number; 200 by default. */
  volatile Function<Integer, Integer> statusOf = number -> 200;

  @Override
  public WebhookAttempt post(WebhookPost post) {
    posts.add(post);
    int status = statusOf.apply(post.number());
    boolean delivered = status >= 200 && status < 300;
    boolean retryable = status >= 500 || status == 408 || status == 429;
    return new WebhookAttempt(
        post.number(),
        Instant.now().toString(),
        status,
        delivered ? null : "the receiver answered HTTP " + status,
        delivered,
        retryable,
        null,
        1);
  }
}
