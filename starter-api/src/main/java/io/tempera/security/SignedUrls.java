package io.tempera.security;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Output and preview URLs that work without a key for a while ({@code ?expires=&signature=}), so
 * that a page can show them in {@code <img>}, {@code <video>} and {@code <audio>}, which send no
 * header. The signature is an HMAC-SHA256 of the path and the expiry with a secret shared by every
 * API process (kept in the keys file); it grants that one path and nothing else. Expiries are
 * rounded up to the hour, so the same URL is handed out for an hour and browsers cache it.
 */
public final class SignedUrls {

  private static final long BUCKET_SECONDS = 3600;

  private final Supplier<byte[]> secret;
  private final Duration ttl;
  private final Clock clock;

  public SignedUrls(Supplier<byte[]> secret, Duration ttl, Clock clock) {
    this.secret = secret;
    this.ttl = ttl;
    this.clock = clock;
  }

  /** {@code path} with an expiry at least {@code ttl} away and its signature. */
  public String sign(String path) {
    long now = clock.instant().getEpochSecond();
    long expires = ((now + ttl.toSeconds()) / BUCKET_SECONDS + 1) * BUCKET_SECONDS;
    return path + "?expires=" + expires + "&signature=" + signature(path, expires);
  }

  /** Whether {@code signature} grants {@code path} until {@code expires}, which has not passed. */
  public boolean grants(String path, String expires, String signature) {
    if (expires == null || signature == null || expires.length() > 12 || signature.length() > 64) {
      return false;
    }
    long until;
    try {
      until = Long.parseLong(expires);
    } catch (NumberFormatException e) {
      return false;
    }
    if (until < clock.instant().getEpochSecond()) {
      return false;
    }
    return MessageDigest.isEqual(
        signature(path, until).getBytes(StandardCharsets.US_ASCII),
        signature.getBytes(StandardCharsets.US_ASCII));
  }

  private String signature(String path, long expires) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.get(), "HmacSHA256"));
      byte[] sig = mac.doFinal((path + "\n" + expires).getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(sig);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }
}
