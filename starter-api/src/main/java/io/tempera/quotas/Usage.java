package io.tempera.quotas;

import java.util.Map;

/**
 * What the pools hold, all of them together, as read from their allocators at {@code readAtMillis}.
 *
 * @param byKey per project key (the hash in its generations' ids, {@code gen-<key>-…})
 * @param leasesHeld leases held in every pool
 * @param waiting generations waiting for a slot in every pool
 * @param slots how many leases the pools' hosts hold at most at once
 * @param finishedLeases leases measured so far (0: no lease length measured yet)
 * @param meanLeaseMillis how long a lease is held, on average
 * @param answered whether every pool's allocator answered (else the counts are partial)
 */
public record Usage(
    Map<String, Counts> byKey,
    int leasesHeld,
    int waiting,
    int slots,
    long finishedLeases,
    double meanLeaseMillis,
    boolean answered,
    long readAtMillis) {

  public Usage {
    byKey = Map.copyOf(byKey);
  }

  public static Usage none(long at) {
    return new Usage(Map.of(), 0, 0, 0, 0, 0, false, at);
  }

  /**
   * One project's part.
   *
   * @param firstPlace the place in line of its first waiting generation (0: none waits)
   * @param gpuMillis the GPU time its leases held in the current clock hour, up to the read
   */
  public record Counts(int running, int queued, int firstPlace, long gpuMillis) {
    public static final Counts NONE = new Counts(0, 0, 0, 0);
  }

  public Counts of(String key) {
    return byKey.getOrDefault(key, Counts.NONE);
  }
}
