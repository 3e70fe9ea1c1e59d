package io.tempera.api.webhooks;

import java.net.IDN;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A project's webhook allow-list: host names ({@code hooks.example.com}), wildcards for a name's
 * subdomains ({@code *.example.com}, not the name itself) and IP addresses, compared in lower case
 * and ASCII (international names as their punycode), without a trailing dot.
 */
public final class WebhookHosts {

  private static final Pattern LABELS =
      Pattern.compile(
          "(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*");
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  private WebhookHosts() {}

  /** {@code host} as compared, or null when it is not a host name or an IP address. */
  public static String normaliseHost(String host) {
    if (host == null || host.isBlank() || host.length() > 253) {
      return null;
    }
    String h = host.strip();
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (h.contains(":")) {
      return h.matches("[0-9A-Fa-f:.]+") ? h.toLowerCase(Locale.ROOT) : null; // IPv6
    }
    if (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    try {
      h = IDN.toASCII(h, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException notAName) {
      return null;
    }
    return LABELS.matcher(h).matches() || IPV4.matcher(h).matches() ? h : null;
  }

  /** An allow-list entry as kept, or null when it is neither a host, a wildcard nor an address. */
  public static String normalisePattern(String pattern) {
    if (pattern == null) {
      return null;
    }
    String p = pattern.strip();
    if (p.startsWith("*.")) {
      String rest = normaliseHost(p.substring(2));
      return rest == null || rest.contains(":") || IPV4.matcher(rest).matches()
          ? null
          : "*." + rest;
    }
    return normaliseHost(p);
  }

  /** Whether {@code host} (normalised) is allowed by {@code allowed}. */
  public static boolean allowed(List<String> allowed, String host) {
    for (String entry : allowed) {
      if (entry.startsWith("*.")) {
        if (host.endsWith(entry.substring(1))) {
          return true;
        }
      } else if (entry.equals(host)) {
        return true;
      }
    }
    return false;
  }
}
