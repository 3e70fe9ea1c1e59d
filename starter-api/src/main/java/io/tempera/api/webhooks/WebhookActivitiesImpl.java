package io.tempera.api.webhooks;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.WebhookActivities;
import io.tempera.webhooks.WebhookAttempt;
import io.tempera.webhooks.WebhookEvent;
import io.tempera.webhooks.WebhookPost;
import io.tempera.webhooks.WebhookSignature;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.function.Function;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.Timeout;

/**
 * One delivery attempt: the URL checked against the project's allow-list again, the event's body
 * signed with the project's secret(s) ({@link WebhookSignature}), POSTed with Apache HttpClient.
 * The host is resolved by a resolver that refuses internal addresses (unless allowed), and the
 * connection goes to the addresses it checked: a name that resolved to a public address at submit
 * time and to an internal one now (DNS rebinding) is refused, never connected to. Redirects are not
 * followed.
 */
public final class WebhookActivitiesImpl implements WebhookActivities, AutoCloseable {

  /** The user agent receivers see. */
  static final String USER_AGENT = "Tempera-Webhooks/1";

  /**
   * The metric of delivery attempts: a timer tagged {@code outcome} (delivered, retried: a failure
   * the delivery tries again after, refused: one it does not) and {@code status} (the receiver's
   * HTTP status class, or none when it was not reached).
   */
  public static final String ATTEMPTS = "tempera.webhooks.attempts";

  private final WebhookRules rules;
  private final ApiKeyStore keys;
  private final Function<WebhookEvent, byte[]> bodies;
  private final Clock clock;
  private final CloseableHttpClient http;
  private final MeterRegistry metrics;

  /** A name refused for the address it resolves to (never retried: it is not a network fault). */
  private static final class AddressRefused extends UnknownHostException {
    AddressRefused(String message) {
      super(message);
    }
  }

  /**
   * @param bodies the JSON body of an event (the same shape as the REST state of what it tells)
   */
  public WebhookActivitiesImpl(
      WebhookRules rules, ApiKeyStore keys, Function<WebhookEvent, byte[]> bodies, Clock clock) {
    this(rules, keys, bodies, clock, null);
  }

  /**
   * @param metrics where delivery attempts are counted and timed ({@link #ATTEMPTS}); null for none
   */
  public WebhookActivitiesImpl(
      WebhookRules rules,
      ApiKeyStore keys,
      Function<WebhookEvent, byte[]> bodies,
      Clock clock,
      MeterRegistry metrics) {
    this.metrics = metrics;
    this.rules = rules;
    this.keys = keys;
    this.bodies = bodies;
    this.clock = clock;
    WebhookProperties properties = rules.properties();
    DnsResolver checked =
        new DnsResolver() {
          @Override
          public InetAddress[] resolve(String host) throws UnknownHostException {
            try {
              return rules.resolve(host);
            } catch (WebhookRules.Refused refused) {
              if (refused.code().equals("WEBHOOK_UNRESOLVABLE")) {
                throw new UnknownHostException(refused.getMessage());
              }
              throw new AddressRefused(refused.getMessage());
            }
          }

          @Override
          public String resolveCanonicalHostname(String host) {
            return host;
          }
        };
    this.http =
        HttpClients.custom()
            .setConnectionManager(
                PoolingHttpClientConnectionManagerBuilder.create()
                    .setDnsResolver(checked)
                    .setDefaultConnectionConfig(
                        ConnectionConfig.custom()
                            .setConnectTimeout(Timeout.of(properties.connectTimeout()))
                            .setSocketTimeout(Timeout.of(properties.responseTimeout()))
                            .build())
                    .setMaxConnTotal(64)
                    .setMaxConnPerRoute(4)
                    .build())
            .setDefaultRequestConfig(
                RequestConfig.custom()
                    .setResponseTimeout(Timeout.of(properties.responseTimeout()))
                    .build())
            .disableRedirectHandling()
            .disableAutomaticRetries()
            .disableCookieManagement()
            .disableAuthCaching()
            .setUserAgent(USER_AGENT)
            .build();
  }

  @Override
  public WebhookAttempt post(WebhookPost post) {
    long started = System.nanoTime();
    WebhookAttempt attempt = attempt(post, started);
    if (metrics != null) {
      Timer.builder(ATTEMPTS)
          .description("Webhook delivery attempts, by outcome and the receiver's status class")
          .tag(
              "outcome",
              attempt.delivered() ? "delivered" : attempt.retryable() ? "retried" : "refused")
          .tag(
              "status", attempt.httpStatus() == null ? "none" : (attempt.httpStatus() / 100) + "xx")
          .register(metrics)
          .record(Duration.ofNanos(System.nanoTime() - started));
    }
    return attempt;
  }

  private WebhookAttempt attempt(WebhookPost post, long started) {
    WebhookEvent event = post.event();
    URI uri;
    try {
      uri = rules.check(event.projectId(), event.webhook().url());
    } catch (WebhookRules.Refused refused) {
      return ended(post, started, null, refused.getMessage(), false, null);
    }
    List<String> secrets =
        keys.webhooks(event.projectId())
            .map(settings -> settings.signingSecrets(clock.instant()))
            .orElse(List.of());
    if (secrets.isEmpty()) {
      return ended(
          post,
          started,
          null,
          "Project " + event.projectId() + " has no webhook signing secret",
          false,
          null);
    }
    byte[] body = bodies.apply(event);
    long timestamp = clock.instant().getEpochSecond();
    HttpPost request = new HttpPost(uri);
    request.setEntity(new ByteArrayEntity(body, ContentType.APPLICATION_JSON));
    request.setHeader(WebhookSignature.HEADER, WebhookSignature.header(timestamp, body, secrets));
    request.setHeader("Tempera-Event-Id", event.id());
    request.setHeader("Tempera-Event-Type", event.type());
    request.setHeader("Tempera-Delivery-Attempt", Integer.toString(post.number()));
    try {
      return http.execute(request, response -> answered(post, started, response));
    } catch (AddressRefused refused) {
      return ended(post, started, null, refused.getMessage(), false, null);
    } catch (UnknownHostException unresolved) {
      return ended(post, started, null, unresolved.getMessage(), true, null);
    } catch (IOException e) {
      return ended(
          post,
          started,
          null,
          "The receiver could not be reached: "
              + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()),
          true,
          null);
    }
  }

  private WebhookAttempt answered(WebhookPost post, long started, ClassicHttpResponse response)
      throws IOException {
    EntityUtils.consume(response.getEntity());
    int status = response.getCode();
    if (status >= 200 && status < 300) {
      return ended(post, started, status, null, false, null).asDelivered();
    }
    boolean retryable = status >= 500 || status == 408 || status == 429;
    String error =
        status >= 300 && status < 400
            ? "The receiver answered HTTP " + status + " (a redirect, which is not followed)"
            : "The receiver answered HTTP " + status;
    Long retryAfter = status == 429 || status == 503 ? retryAfterMillis(response) : null;
    return ended(post, started, status, error, retryable, retryAfter);
  }

  /**
   * The receiver's {@code Retry-After}: seconds or an HTTP date; null when absent or unreadable.
   */
  private Long retryAfterMillis(ClassicHttpResponse response) {
    Header header = response.getFirstHeader("Retry-After");
    if (header == null || header.getValue() == null) {
      return null;
    }
    String value = header.getValue().strip();
    try {
      return Math.max(0, Long.parseLong(value)) * 1000;
    } catch (NumberFormatException notSeconds) {
      try {
        Instant until =
            ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        return Math.max(0, until.toEpochMilli() - clock.millis());
      } catch (java.time.format.DateTimeParseException unreadable) {
        return null;
      }
    }
  }

  private WebhookAttempt ended(
      WebhookPost post,
      long started,
      Integer status,
      String error,
      boolean retryable,
      Long retryAfter) {
    return new WebhookAttempt(
        post.number(),
        clock.instant().toString(),
        status,
        error,
        false,
        retryable,
        retryAfter,
        (System.nanoTime() - started) / 1_000_000);
  }

  @Override
  public void close() throws IOException {
    http.close();
  }
}
