package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Machines of their own for the multi-host tests: a Linux bridge with an address on this machine
 * and one network namespace per host, joined to the bridge by a veth pair, each with its own
 * address. A process started in a namespace reaches the others and this machine only through the
 * bridge (not through loopback), and {@link #unplug} cuts its cable. Needs root and iproute2;
 * {@link #close} removes all of it.
 */
final class NetworkNamespaces implements AutoCloseable {

  private final String tag =
      Integer.toString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff), 16);
  private final int subnet = ThreadLocalRandom.current().nextInt(16, 250);
  private final String bridge = "tbr" + tag;
  private final List<String> namespaces = new ArrayList<>();

  /** Whether this machine lets the tests make namespaces (root with iproute2). */
  static boolean available() {
    try {
      return root() && run(false, "ip", "-V").isEmpty();
    } catch (IOException | InterruptedException e) {
      return false;
    }
  }

  NetworkNamespaces() throws IOException, InterruptedException {
    run(true, "ip", "link", "add", bridge, "type", "bridge");
    run(true, "ip", "addr", "add", bridgeAddress() + "/24", "dev", bridge);
    run(true, "ip", "link", "set", bridge, "up");
  }

  /** This machine's address on the bridge: where the hosts reach the cluster, Redis, ComfyUI. */
  String bridgeAddress() {
    return "10.231." + subnet + ".1";
  }

  /** A new host with its own namespace; its address is {@link #address}. */
  String add() throws IOException, InterruptedException {
    int n = namespaces.size() + 1;
    String ns = "tempera-" + tag + "-" + n;
    String veth = "tv" + tag + n;
    run(true, "ip", "netns", "add", ns);
    namespaces.add(ns);
    run(true, "ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p");
    run(true, "ip", "link", "set", veth, "master", bridge, "up");
    run(true, "ip", "link", "set", veth + "p", "netns", ns);
    run(
        true,
        "ip",
        "netns",
        "exec",
        ns,
        "ip",
        "addr",
        "add",
        address(ns) + "/24",
        "dev",
        veth + "p");
    run(true, "ip", "netns", "exec", ns, "ip", "link", "set", veth + "p", "up");
    run(true, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
    return ns;
  }

  String address(String ns) {
    return "10.231." + subnet + "." + (10 + namespaces.indexOf(ns) + 1);
  }

  /** {@code command} to run inside {@code ns}. */
  List<String> inside(String ns, List<String> command) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    all.addAll(command);
    return all;
  }

  /** Cuts the host's cable: nothing reaches it, it reaches nothing. */
  void unplug(String ns) throws IOException, InterruptedException {
    run(true, "ip", "link", "set", "tv" + tag + (namespaces.indexOf(ns) + 1), "down");
  }

  @Override
  public void close() {
    for (String ns : namespaces) {
      try {
        run(false, "ip", "netns", "del", ns);
      } catch (IOException | InterruptedException ignored) {
        // best effort
      }
    }
    try {
      run(false, "ip", "link", "del", bridge);
    } catch (IOException | InterruptedException ignored) {
      // best effort
    }
  }

  /** Runs a command; its output when it failed (an empty string when it did not). */
  private static String run(boolean mustSucceed, String... command)
      throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    if (mustSucceed) {
      assertThat(process.exitValue()).as("%s: %s", String.join(" ", command), out).isZero();
    }
    return process.exitValue() == 0 ? "" : out;
  }

  /** Whether this process runs as root (uid 0). */
  private static boolean root() throws IOException, InterruptedException {
    Process id = new ProcessBuilder("id", "-u").start();
    String uid = new String(id.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    id.waitFor(10, TimeUnit.SECONDS);
    return uid.equals("0");
  }
}
