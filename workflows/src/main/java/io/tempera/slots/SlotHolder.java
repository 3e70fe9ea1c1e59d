package io.tempera.slots;

import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;

/**
 * What a slot allocator tells a waiting holder (a generation workflow implements these signals).
 */
@WorkflowInterface
public interface SlotHolder {

  /** The holder's lease, granted after it waited. */
  @SignalMethod
  void slotGranted(Lease lease);

  /**
   * The holder's request can never be granted (no GPU of the pool is big enough); it left the
   * queue.
   */
  @SignalMethod
  void slotRejected(String reason);

  /**
   * The holder's lease was taken back: its host was lost. The holder stops what it runs there and
   * asks for a lease again.
   */
  @SignalMethod
  void slotRevoked(LeaseRevocation revocation);

  /** The holder's new place in the queue. */
  @SignalMethod
  void slotQueuePosition(QueuePosition position);
}
