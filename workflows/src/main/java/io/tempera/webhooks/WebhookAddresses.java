package io.tempera.webhooks;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * The addresses a webhook may never be delivered to unless the operator allowed private ones
 * ({@code tempera.webhooks.allow-private}): this machine and its network's (loopback, private,
 * shared and link-local ranges, which hold cloud metadata services such as 169.254.169.254),
 * multicast, broadcast and unspecified addresses, IPv6 unique-local ones, and IPv4 addresses hidden
 * in IPv6 (mapped, NAT64, 6to4) are judged as the IPv4 address they carry.
 */
public final class WebhookAddresses {

  private WebhookAddresses() {}

  /** Why {@code address} may not receive a webhook, or null when it may. */
  public static String forbidden(InetAddress address) {
    if (address instanceof Inet6Address v6) {
      byte[] b = v6.getAddress();
      Inet4Address carried = carriedIpv4(b);
      if (carried != null) {
        return forbidden(carried);
      }
      if ((b[0] & 0xfe) == 0xfc) {
        return "a private (unique-local) address";
      }
    }
    if (address.isLoopbackAddress()) {
      return "a loopback address";
    }
    if (address.isAnyLocalAddress()) {
      return "an unspecified address";
    }
    if (address.isLinkLocalAddress()) {
      return "a link-local address (where cloud metadata services answer)";
    }
    if (address.isSiteLocalAddress()) {
      return "a private address";
    }
    if (address.isMulticastAddress()) {
      return "a multicast address";
    }
    if (address instanceof Inet4Address v4) {
      byte[] b = v4.getAddress();
      int first = b[0] & 0xff;
      int second = b[1] & 0xff;
      if (first == 0) {
        return "an unspecified address";
      }
      if (first == 100 && second >= 64 && second < 128) {
        return "a shared (carrier-grade NAT) address";
      }
      if (first == 192 && second == 0 && (b[2] & 0xff) == 0) {
        return "a reserved (IETF protocol) address";
      }
      if (first == 198 && (second == 18 || second == 19)) {
        return "a reserved (benchmarking) address";
      }
      if (first >= 240) {
        return "a reserved or broadcast address";
      }
    }
    return null;
  }

  /** The IPv4 address an IPv6 one carries: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::), 6to4. */
  private static Inet4Address carriedIpv4(byte[] b) {
    boolean mapped = true;
    for (int i = 0; i < 10; i++) {
      mapped &= b[i] == 0;
    }
    mapped &= (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
    boolean compatible = true;
    for (int i = 0; i < 12; i++) {
      compatible &= b[i] == 0;
    }
    boolean nat64 =
        (b[0] & 0xff) == 0x00
            && (b[1] & 0xff) == 0x64
            && (b[2] & 0xff) == 0xff
            && (b[3] & 0xff) == 0x9b;
    for (int i = 4; nat64 && i < 12; i++) {
      nat64 = b[i] == 0;
    }
    try {
      if (mapped || nat64 || (compatible && !allZeroOrOne(b))) {
        return (Inet4Address) InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
      }
      if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) { // 6to4: 2002:a.b.c.d::/48
        return (Inet4Address) InetAddress.getByAddress(new byte[] {b[2], b[3], b[4], b[5]});
      }
    } catch (java.net.UnknownHostException impossible) {
      throw new IllegalStateException(impossible);
    }
    return null;
  }

  /** :: and ::1 are not IPv4-compatible addresses (they are judged as IPv6). */
  private static boolean allZeroOrOne(byte[] b) {
    for (int i = 0; i < 15; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return b[15] == 0 || b[15] == 1;
  }
}
