package io.tempera.slots;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/** A generation's side of the slot pool: asking the pool's allocator for a lease. */
@ActivityInterface
public interface SlotActivities {

  /**
   * Ask the allocator of this worker's pool for a lease (a request for 0 MB gets the pool's default
   * size): granted at once, or a place in the queue, the lease following by signal. Asking again
   * gives the same answer. INVALID_REQUEST when the allocator refuses the request as malformed.
   */
  @ActivityMethod
  LeaseAnswer requestLease(LeaseRequest request);
}
