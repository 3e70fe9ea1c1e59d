package io.tempera.slots;

import java.util.List;

/**
 * A worker host offering its GPUs to a slot pool. Sent again on every worker start: the newest
 * registration of a host id replaces the older one, its existing leases stay.
 *
 * @param taskQueue the host's own task queue, where a leased generation's later activities run
 * @param maxLeases how many generations the host holds leases for at once, whatever their memory:
 *     those it runs plus those it keeps ready to start the moment a run ends
 * @param runsAtOnce how many of them run on its backends at once (0, as in a registration written
 *     before it: all of them)
 * @param tiers the quality tiers whose generations it runs (empty, as in a registration written
 *     before it: every tier); a generation of another tier gets no lease there
 */
public record HostRegistration(
    String hostId,
    String taskQueue,
    List<Gpu> gpus,
    int maxLeases,
    int runsAtOnce,
    List<String> tiers) {

  /**
   * How many generations a host keeps ready beyond those it runs, by default: when a run ends, the
   * next starts on the host at once instead of after a round trip through the allocator.
   */
  public static final int DEFAULT_PREFETCH = 1;

  public HostRegistration {
    gpus = gpus == null ? List.of() : List.copyOf(gpus);
    runsAtOnce = runsAtOnce <= 0 || runsAtOnce > maxLeases ? maxLeases : runsAtOnce;
    tiers = tiers == null ? List.of() : List.copyOf(tiers);
  }

  /** A host running generations of every tier. */
  public HostRegistration(
      String hostId, String taskQueue, List<Gpu> gpus, int maxLeases, int runsAtOnce) {
    this(hostId, taskQueue, gpus, maxLeases, runsAtOnce, List.of());
  }

  /** A host running every generation it holds a lease for at once (none kept ready). */
  public HostRegistration(String hostId, String taskQueue, List<Gpu> gpus, int maxLeases) {
    this(hostId, taskQueue, gpus, maxLeases, maxLeases);
  }

  /**
   * Host {@code hostId} on its own task queue, running {@code slots} generations at once and
   * keeping {@code prefetch} more leased and ready to start.
   */
  public static HostRegistration of(String hostId, List<Gpu> gpus, int slots, int prefetch) {
    return of(hostId, gpus, slots, prefetch, List.of());
  }

  /** The same, running only generations of {@code tiers} (empty: every tier). */
  public static HostRegistration of(
      String hostId, List<Gpu> gpus, int slots, int prefetch, List<String> tiers) {
    return new HostRegistration(
        hostId, taskQueueFor(hostId), gpus, slots + Math.max(0, prefetch), slots, tiers);
  }

  /** Whether this host runs generations of {@code tier}. */
  public boolean serves(String tier) {
    return tiers.isEmpty() || tier == null || tiers.contains(tier);
  }

  /** The task queue of a host id: later activities of generations leased there. */
  public static String taskQueueFor(String hostId) {
    return "tempera-host-" + hostId;
  }
}
