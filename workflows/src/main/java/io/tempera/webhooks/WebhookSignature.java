package io.tempera.webhooks;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The {@code Tempera-Signature} header: {@code t=<unix seconds>,v1=<hex HMAC-SHA256>}, the HMAC
 * keyed with the project's webhook secret (its UTF-8 bytes, {@code whsec_...} included) over {@code
 * t + "." + body}. While a rotated secret is still honoured, a second {@code v1=} carries the
 * signature with the previous one; a receiver accepts the event when any {@code v1} matches.
 */
public final class WebhookSignature {

  /** The header's name. */
  public static final String HEADER = "Tempera-Signature";

  private WebhookSignature() {}

  /** The header's value for {@code body} sent at {@code timestamp}, with each secret in turn. */
  public static String header(long timestamp, byte[] body, List<String> secrets) {
    StringBuilder value = new StringBuilder("t=").append(timestamp);
    for (String secret : secrets) {
      value.append(",v1=").append(hmac(secret, timestamp, body));
    }
    return value.toString();
  }

  /** The hex HMAC-SHA256 of {@code timestamp + "." + body} keyed with {@code secret}. */
  public static String hmac(String secret, long timestamp, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update((timestamp + ".").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }

  /**
   * What a receiver does: whether {@code header} signs {@code body} with {@code secret} and its
   * timestamp is within {@code toleranceSeconds} of {@code nowSeconds} (an old, replayed event is
   * refused).
   */
  public static boolean verify(
      String header, byte[] body, String secret, long nowSeconds, long toleranceSeconds) {
    if (header == null) {
      return false;
    }
    Long timestamp = null;
    java.util.List<String> signatures = new java.util.ArrayList<>();
    for (String part : header.split(",")) {
      int eq = part.indexOf('=');
      if (eq < 0) {
        continue;
      }
      String key = part.substring(0, eq).strip();
      String value = part.substring(eq + 1).strip();
      if (key.equals("t")) {
        try {
          timestamp = Long.parseLong(value);
        } catch (NumberFormatException e) {
          return false;
        }
      } else if (key.equals("v1")) {
        signatures.add(value);
      }
    }
    if (timestamp == null || Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
      return false;
    }
    byte[] expected = hmac(secret, timestamp, body).getBytes(StandardCharsets.US_ASCII);
    for (String signature : signatures) {
      if (MessageDigest.isEqual(expected, signature.getBytes(StandardCharsets.US_ASCII))) {
        return true;
      }
    }
    return false;
  }
}
