package io.tempera.slots;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/**
 * A worker host's side of its liveness, on the host's own task queue: the pool's allocator runs
 * {@link #keepAlive} there, and a host that stops heartbeating it (killed, cut off, hung) is taken
 * as lost within the pool's host timeout, not after a five-minute activity timeout.
 */
@ActivityInterface
public interface HostActivities {

  /**
   * Heartbeats for the watch's time, then returns. When the allocator no longer knows the watch
   * (its run continued as new, or it took this host as lost), the host registers again.
   */
  @ActivityMethod
  void keepAlive(HostWatch watch);
}
