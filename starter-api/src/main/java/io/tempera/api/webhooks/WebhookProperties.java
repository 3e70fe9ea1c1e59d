package io.tempera.api.webhooks;

import io.tempera.webhooks.WebhookRetry;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Webhook delivery ({@code tempera.webhooks.*}); which hosts a project may name is the project's
 * own allow-list ({@code ./tempera keys webhooks allow}).
 *
 * @param allowPrivate deliver to loopback, private, link-local and other internal addresses too
 *     (default false: a webhook is never delivered inside the operator's network)
 * @param allowHttp accept {@code http://} URLs (default false: https only)
 * @param initialInterval the wait after the first failed attempt (default 1 s), doubled after each
 * @param maximumInterval the longest wait between attempts (default 5 min)
 * @param giveUpAfter how long a failing receiver is tried (default 24 h)
 * @param connectTimeout how long connecting to a receiver may take (default 5 s)
 * @param responseTimeout how long a receiver may take to answer (default 10 s)
 */
@ConfigurationProperties("tempera.webhooks")
public record WebhookProperties(
    Boolean allowPrivate,
    Boolean allowHttp,
    Duration initialInterval,
    Duration maximumInterval,
    Duration giveUpAfter,
    Duration connectTimeout,
    Duration responseTimeout) {

  public WebhookProperties {
    allowPrivate = allowPrivate != null && allowPrivate;
    allowHttp = allowHttp != null && allowHttp;
    initialInterval = initialInterval == null ? Duration.ofSeconds(1) : initialInterval;
    maximumInterval = maximumInterval == null ? Duration.ofMinutes(5) : maximumInterval;
    giveUpAfter = giveUpAfter == null ? Duration.ofHours(24) : giveUpAfter;
    connectTimeout = connectTimeout == null ? Duration.ofSeconds(5) : connectTimeout;
    responseTimeout = responseTimeout == null ? Duration.ofSeconds(10) : responseTimeout;
    retry(initialInterval, maximumInterval, giveUpAfter); // refuses a schedule that cannot work
  }

  /** The retry schedule a webhook accepted now keeps. */
  public WebhookRetry retry() {
    return retry(initialInterval, maximumInterval, giveUpAfter);
  }

  private static WebhookRetry retry(Duration initial, Duration maximum, Duration giveUpAfter) {
    try {
      return WebhookRetry.of(initial, maximum, giveUpAfter);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "tempera.webhooks: "
              + e.getMessage()
              + " (initial-interval "
              + initial
              + ", maximum-interval "
              + maximum
              + ")",
          e);
    }
  }
}
