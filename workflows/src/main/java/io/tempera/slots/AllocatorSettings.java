package io.tempera.slots;

/**
 * How an allocator workflow runs.
 *
 * @param reclaimEverySeconds how often, while leases or waiters exist, holders are checked and the
 *     leases of closed ones (terminated, timed out) reclaimed
 * @param maxHistoryEvents continue-as-new once the history has this many events (or when the server
 *     suggests it)
 * @param hostTimeoutSeconds how long a registered host may go without a heartbeat before it is
 *     taken as lost: it leaves placement, its leases are revoked and their holders move to another
 *     host (0, as in a state written before host liveness: the default, 15 s). Negative turns host
 *     liveness off: only for tests on the test server's skipped time, where every heartbeat looks
 *     late.
 * @param priorityAgingSeconds how long a waiter waits before it counts as one priority higher (so
 *     that a flood of higher priorities never starves a lower one for good); 0, as in settings
 *     written before priorities: the default, 300 s; negative: no aging
 */
public record AllocatorSettings(
    int reclaimEverySeconds,
    int maxHistoryEvents,
    int hostTimeoutSeconds,
    int priorityAgingSeconds) {

  public static final int DEFAULT_HOST_TIMEOUT_SECONDS = 15;
  public static final int DEFAULT_PRIORITY_AGING_SECONDS = 300;

  public AllocatorSettings(int reclaimEverySeconds, int maxHistoryEvents, int hostTimeoutSeconds) {
    this(reclaimEverySeconds, maxHistoryEvents, hostTimeoutSeconds, 0);
  }

  public static AllocatorSettings defaults() {
    return new AllocatorSettings(30, 2_000, DEFAULT_HOST_TIMEOUT_SECONDS);
  }

  /** The defaults without host liveness (tests on skipped time). */
  public static AllocatorSettings withoutHostLiveness() {
    return new AllocatorSettings(30, 2_000, -1);
  }

  public AllocatorSettings {
    reclaimEverySeconds = reclaimEverySeconds <= 0 ? 30 : reclaimEverySeconds;
    maxHistoryEvents = maxHistoryEvents <= 0 ? 2_000 : maxHistoryEvents;
    hostTimeoutSeconds =
        hostTimeoutSeconds == 0 ? DEFAULT_HOST_TIMEOUT_SECONDS : hostTimeoutSeconds;
    priorityAgingSeconds =
        priorityAgingSeconds == 0 ? DEFAULT_PRIORITY_AGING_SECONDS : priorityAgingSeconds;
  }

  /** The same settings with this priority aging (negative: none). */
  public AllocatorSettings withPriorityAging(int seconds) {
    return new AllocatorSettings(
        reclaimEverySeconds, maxHistoryEvents, hostTimeoutSeconds, seconds);
  }

  public boolean hostLiveness() {
    return hostTimeoutSeconds > 0;
  }
}
