package io.tempera.slots;

import io.tempera.generation.ErrorCode;
import io.tempera.generation.SlotLease;
import io.temporal.failure.ApplicationFailure;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The slots of this worker process: at most {@code capacity} generations run on its backends at
 * once. A holder asking again gets its existing lease (activity retries are safe); releasing is
 * idempotent. Leases live as long as the process: durable, cross-host leases are the slot
 * allocator's job.
 */
public final class LocalSlotPool {

  private final String name;
  private final int capacity;
  private final Map<String, SlotLease> leasesByHolder = new LinkedHashMap<>();

  public LocalSlotPool(String name, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("slot capacity must be at least 1, got " + capacity);
    }
    this.name = name;
    this.capacity = capacity;
  }

  /** Leases a slot for {@code holder}, or fails with the retryable BACKEND_BUSY while all are taken. */
  public synchronized SlotLease acquire(String holder) {
    SlotLease existing = leasesByHolder.get(holder);
    if (existing != null) {
      return existing;
    }
    if (leasesByHolder.size() >= capacity) {
      throw ApplicationFailure.newFailure(
          "All " + capacity + " slots of " + name + " are busy", ErrorCode.BACKEND_BUSY.name());
    }
    SlotLease lease = new SlotLease(name + "/" + holder, name, holder);
    leasesByHolder.put(holder, lease);
    return lease;
  }

  public synchronized void release(SlotLease lease) {
    leasesByHolder.remove(lease.holder(), lease);
  }

  public synchronized int inUse() {
    return leasesByHolder.size();
  }

  public int capacity() {
    return capacity;
  }
}
