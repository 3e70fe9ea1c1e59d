package io.tempera.batch;

import io.temporal.activity.ActivityInterface;

/**
 * The batch's one question to the API's processes (on {@link BatchWorkflow#TASK_QUEUE}): may
 * generation {@code generationId} of {@code projectId} start now, under the project's quotas and
 * the queue's bound, counted as a generation the API admits.
 */
@ActivityInterface
public interface BatchActivities {

  Admission admit(String projectId, String generationId);
}
