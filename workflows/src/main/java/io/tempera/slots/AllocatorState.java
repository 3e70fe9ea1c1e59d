package io.tempera.slots;

import java.util.List;

/**
 * Everything an allocator knows, carried across continue-as-new: hosts (and which of them are lost:
 * registered, but silent past the host timeout; and which an operator drained: no new lease goes
 * there), granted leases, the FIFO queue of waiting requests, and its sequence number. Also what
 * its query returns. A state written before draining has no {@code drainedHosts}: none; one written
 * before the GPU time was measured has no {@code gpuTime}: nothing measured. A run hands its line
 * to the next packed ({@code packedWaiters}, since the allocator's "hand-over" change); read the
 * line with {@link #line()}.
 */
public record AllocatorState(
    String pool,
    List<HostRegistration> hosts,
    List<Lease> leases,
    List<Waiter> waiters,
    long seq,
    AllocatorSettings settings,
    List<String> lostHosts,
    List<String> drainedHosts,
    GpuTime gpuTime,
    byte[] packedWaiters) {

  public AllocatorState {
    hosts = hosts == null ? List.of() : List.copyOf(hosts);
    leases = leases == null ? List.of() : List.copyOf(leases);
    waiters = waiters == null ? List.of() : List.copyOf(waiters);
    settings = settings == null ? AllocatorSettings.defaults() : settings;
    lostHosts = lostHosts == null ? List.of() : List.copyOf(lostHosts);
    drainedHosts = drainedHosts == null ? List.of() : List.copyOf(drainedHosts);
    gpuTime = gpuTime == null ? GpuTime.none() : gpuTime;
  }

  /** A state whose waiters are a list (what the query returns). */
  public AllocatorState(
      String pool,
      List<HostRegistration> hosts,
      List<Lease> leases,
      List<Waiter> waiters,
      long seq,
      AllocatorSettings settings,
      List<String> lostHosts,
      List<String> drainedHosts,
      GpuTime gpuTime) {
    this(pool, hosts, leases, waiters, seq, settings, lostHosts, drainedHosts, gpuTime, null);
  }

  /**
   * The same state with its wait line packed ({@link PackedLine}: gzipped JSON), as a run hands it
   * to the next: small enough for one payload at any depth the pool is meant for.
   */
  public AllocatorState packed() {
    if (waiters.isEmpty()) {
      return this;
    }
    return new AllocatorState(
        pool,
        hosts,
        leases,
        List.of(),
        seq,
        settings,
        lostHosts,
        drainedHosts,
        gpuTime,
        PackedLine.pack(waiters));
  }

  /** The wait line, whether listed or packed. */
  public List<Waiter> line() {
    if (packedWaiters == null || packedWaiters.length == 0) {
      return waiters;
    }
    List<Waiter> all = new java.util.ArrayList<>(waiters);
    all.addAll(PackedLine.unpack(packedWaiters));
    return all;
  }

  /** A state with nothing measured of GPU time. */
  public AllocatorState(
      String pool,
      List<HostRegistration> hosts,
      List<Lease> leases,
      List<Waiter> waiters,
      long seq,
      AllocatorSettings settings,
      List<String> lostHosts,
      List<String> drainedHosts) {
    this(pool, hosts, leases, waiters, seq, settings, lostHosts, drainedHosts, null);
  }

  public static AllocatorState empty(String pool, AllocatorSettings settings) {
    return new AllocatorState(
        pool, List.of(), List.of(), List.of(), 0, settings, List.of(), List.of());
  }
}
