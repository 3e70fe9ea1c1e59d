package io.tempera.generation;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;
import java.util.List;

/** Storing a run's files in the project, on the leased host. */
@ActivityInterface
public interface OutputActivities {

  /** Copy the run's backend files under the project's output folder, heartbeating. */
  @ActivityMethod
  List<OutputRef> collectOutputs(CollectRequest request);
}
