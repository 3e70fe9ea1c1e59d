package io.tempera.slots;

/**
 * A holder gives back a lease. With neither {@code leaseId} nor {@code hostId}, everything the
 * holder has or waits for (a generation ending, or cancelled while waiting). With {@code hostId},
 * the holder's lease on that host, matched by host, never by lease id: a lease id carries the
 * allocator's sequence number, which a replay interleaving handlers differently may number
 * otherwise. Idempotent.
 */
public record LeaseRelease(String holder, String leaseId, String reason, String hostId) {

  public LeaseRelease(String holder, String leaseId, String reason) {
    this(holder, leaseId, reason, null);
  }

  /** The holder's lease on {@code lease}'s host (a run that finished gives its slot back). */
  public static LeaseRelease ofLease(Lease lease, String reason) {
    return new LeaseRelease(lease.holder(), lease.leaseId(), reason, lease.hostId());
  }
}
