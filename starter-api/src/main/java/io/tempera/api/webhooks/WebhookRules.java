package io.tempera.api.webhooks;

import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.WebhookAddresses;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;

/**
 * What a webhook URL must be, checked when a generation is submitted and again at each delivery
 * attempt (an allow-list shortened meanwhile, a name that now resolves elsewhere): https (http only
 * when {@code tempera.webhooks.allow-http}), no user name or password in it, its host on the
 * project's allow-list, and every address the host resolves to a public one unless {@code
 * tempera.webhooks.allow-private}.
 */
public final class WebhookRules {

  /** The longest URL taken. */
  static final int MAX_URL_LENGTH = 2048;

  /** Why a webhook URL is refused: an API error code and a sentence for the user. */
  public static final class Refused extends Exception {
    private final String code;

    Refused(String code, String message) {
      super(message, null, false, false);
      this.code = code;
    }

    public String code() {
      return code;
    }
  }

  private final ApiKeyStore keys;
  private final WebhookProperties properties;

  public WebhookRules(ApiKeyStore keys, WebhookProperties properties) {
    this.keys = keys;
    this.properties = properties;
  }

  public WebhookProperties properties() {
    return properties;
  }

  /** {@code url} parsed, when its form and host are allowed for {@code projectId} (no DNS). */
  public URI check(String projectId, String url) throws Refused {
    if (url == null || url.isBlank()) {
      throw new Refused("WEBHOOK_INVALID_URL", "webhook.url is required");
    }
    if (url.length() > MAX_URL_LENGTH) {
      throw new Refused(
          "WEBHOOK_INVALID_URL", "webhook.url is longer than " + MAX_URL_LENGTH + " characters");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new Refused("WEBHOOK_INVALID_URL", "webhook.url is not a URL (" + e.getReason() + ")");
    }
    String scheme =
        uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
    boolean https = scheme.equals("https");
    if (!https && !(scheme.equals("http") && properties.allowHttp())) {
      throw new Refused(
          "WEBHOOK_INVALID_URL",
          "webhook.url must be an https:// URL"
              + (scheme.equals("http") ? " (this server does not deliver over plain http)" : ""));
    }
    if (uri.getRawUserInfo() != null) {
      throw new Refused(
          "WEBHOOK_INVALID_URL",
          "webhook.url may not carry a user name or password; the signature authenticates events");
    }
    if (uri.getRawFragment() != null) {
      throw new Refused("WEBHOOK_INVALID_URL", "webhook.url may not have a #fragment");
    }
    String host = WebhookHosts.normaliseHost(uri.getHost());
    if (host == null) {
      throw new Refused("WEBHOOK_INVALID_URL", "webhook.url has no valid host");
    }
    List<String> allowed =
        keys.webhooks(projectId).map(ApiKeyStore.ProjectWebhooks::allowedHosts).orElse(List.of());
    if (!WebhookHosts.allowed(allowed, host)) {
      throw new Refused(
          "WEBHOOK_NOT_ALLOWED",
          allowed.isEmpty()
              ? "Project "
                  + projectId
                  + " may not send webhooks yet: an operator allows its receivers' hosts with"
                  + " `./tempera keys webhooks allow "
                  + projectId
                  + " <host>`"
              : "Webhooks of project "
                  + projectId
                  + " may go to "
                  + String.join(", ", allowed)
                  + "; "
                  + host
                  + " is not one of them (an operator adds hosts with `./tempera keys webhooks"
                  + " allow`)");
    }
    return uri;
  }

  /**
   * The addresses {@code host} resolves to, when every one may receive a webhook: a name that
   * resolves to one internal address is refused as a whole.
   */
  public InetAddress[] resolve(String host) throws Refused {
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      throw new Refused("WEBHOOK_UNRESOLVABLE", "The webhook's host " + host + " does not resolve");
    }
    if (!properties.allowPrivate()) {
      for (InetAddress address : addresses) {
        String why = WebhookAddresses.forbidden(address);
        if (why != null) {
          throw new Refused(
              "WEBHOOK_ADDRESS_FORBIDDEN",
              "The webhook's host "
                  + host
                  + " resolves to "
                  + address.getHostAddress()
                  + ", "
                  + why
                  + "; webhooks are delivered to public addresses only");
        }
      }
    }
    return addresses;
  }
}
