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
}
