package io.tempera.slots;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/** What the slot allocator asks of the world. */
@ActivityInterface
public interface SlotAllocatorActivities {

  /** The holders (workflow ids) among these whose workflow is closed or does not exist. */
  @ActivityMethod
  List<String> closedHolders(List<String> holders);

  /**
   * Tells the waiting holders' followers their places in line, over the progress bus (a local
   * activity of the allocator, at most once a second): no Temporal signal per waiter and grant.
   */
  @ActivityMethod
  void publishPlaces(List<WaitingPlace> places);

  /**
   * Tells the followers of the holders of {@code revoked} leases that their generation moves to
   * another GPU, and why (a local activity of the allocator, once per lost host).
   */
  @ActivityMethod
  void publishMoves(List<Lease> revoked, String reason);
}
