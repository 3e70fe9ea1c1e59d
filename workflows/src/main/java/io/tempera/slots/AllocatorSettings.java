package io.tempera.slots;

/**
 * How an allocator workflow runs.
 *
 * @param reclaimEverySeconds how often, while leases or waiters exist, holders are checked and the
 *     leases of closed ones (terminated, timed out) reclaimed
 * @param maxHistoryEvents continue-as-new once the history has this many events (or when the server
 *     suggests it)
 */
public record AllocatorSettings(int reclaimEverySeconds, int maxHistoryEvents) {

  public static AllocatorSettings defaults() {
    return new AllocatorSettings(30, 2_000);
  }

  public AllocatorSettings {
    reclaimEverySeconds = reclaimEverySeconds <= 0 ? 30 : reclaimEverySeconds;
    maxHistoryEvents = maxHistoryEvents <= 0 ? 2_000 : maxHistoryEvents;
  }
}
