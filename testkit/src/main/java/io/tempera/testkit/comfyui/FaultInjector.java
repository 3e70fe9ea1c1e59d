package io.tempera.testkit.comfyui;

import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Faults like a flaky GPU host's, drawn per prompt event with a seeded random: deterministic for a
 * seed, counted by kind.
 */
final class FaultInjector {

  private volatile double rate;
  private Random random = new Random(0);
  private final Map<String, AtomicInteger> injected = new ConcurrentHashMap<>();

  /** Each prompt meets a fault with probability {@code rate} in all, from now on. */
  synchronized void inject(double rate, long seed) {
    this.rate = rate;
    this.random = new Random(seed);
  }

  /** How many faults of each kind were injected. */
  Map<String, Integer> injected() {
    Map<String, Integer> counts = new TreeMap<>();
    injected.forEach((k, v) -> counts.put(k, v.get()));
    return counts;
  }

  /**
   * Draws a fault for the next prompt event: the i-th kind owns the i-th third of the rate (a null
   * kind keeps its share for another event), so the kinds of a prompt add up to the rate.
   */
  String draw(String... kinds) {
    if (rate <= 0) {
      return null;
    }
    synchronized (this) {
      double draw = random.nextDouble();
      double share = rate / 3;
      for (int i = 0; i < kinds.length; i++) {
        if (kinds[i] != null && draw < share * (i + 1) && draw >= share * i) {
          injected.computeIfAbsent(kinds[i], k -> new AtomicInteger()).incrementAndGet();
          return kinds[i];
        }
      }
      return null;
    }
  }
}
