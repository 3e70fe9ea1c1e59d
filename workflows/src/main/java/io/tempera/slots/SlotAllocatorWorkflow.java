package io.tempera.slots;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.UpdateMethod;
import io.temporal.workflow.UpdateValidatorMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * The GPU slots of one pool of worker hosts: a long-lived workflow (id {@link #idFor}) that grants
 * leases in FIFO order through an Update, is told of releases and hosts by signals, reclaims the
 * leases of holders that closed without releasing, and continues as new to keep its history small.
 */
@WorkflowInterface
public interface SlotAllocatorWorkflow {

  String TASK_QUEUE = "tempera-slots";

  static String idFor(String pool) {
    return "tempera-slots-" + pool;
  }

  /**
   * Runs forever; {@code state} carries what an earlier run knew (an empty state on first start).
   */
  @WorkflowMethod
  void run(AllocatorState state);

  /** A worker host offers its GPUs (again). */
  @SignalMethod
  void registerHost(HostRegistration host);

  /** Lease a slot, or take (or keep) a place in the queue. Asking again gives the same answer. */
  @UpdateMethod
  LeaseAnswer requestLease(LeaseRequest request);

  @UpdateValidatorMethod(updateName = "requestLease")
  void validateRequestLease(LeaseRequest request);

  /** Give back a lease or a place in the queue. Idempotent. */
  @SignalMethod
  void release(LeaseRelease release);

  /**
   * The same as {@link #release}, as an Update: a worker host gives a finished run's lease back
   * this way. An Update is no event in the allocator's history until its workflow task takes it, so
   * it never refuses the allocator's continue-as-new (a signal that comes meanwhile does: the
   * worker then replays the whole run, and under load the next signal refuses it again); one that
   * comes during the hand-over is refused (no event), and the caller asks again.
   */
  @UpdateMethod
  void giveBack(LeaseRelease release);

  /** Refuses a give-back while the run hands over to the next (the caller asks again). */
  @UpdateValidatorMethod(updateName = "giveBack")
  void validateGiveBack(LeaseRelease release);

  /**
   * An operator drains a host (no new lease goes to it; its leases run to their end) or puts it
   * back. Kept across continue-as-new and across the host's own re-registration.
   */
  @SignalMethod
  void drain(HostDrain drain);

  @QueryMethod
  AllocatorState state();

  /**
   * Per project: leases held, places in line and GPU time this hour; the pool's slots and how long
   * a lease was held on average; and which of {@code holders} (generation ids) hold a lease or wait
   * here. Small whatever the queue's depth: the API asks it at every admission.
   */
  @QueryMethod
  PoolUsage usage(java.util.List<String> holders);
}
