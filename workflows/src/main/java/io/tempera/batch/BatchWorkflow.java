package io.tempera.batch;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * A batch: one request that runs many variations of a generation (new seeds, or a sweep over
 * parameter values), each as an ordinary generation ({@code GenerationWorkflow}) started as a child
 * of the batch. At most {@link BatchRequest#maxInFlight()} of them are in flight at once, each one
 * admitted under its project's quotas as a single generation is ({@link BatchActivities}); the
 * batch collects how each ended. It ends Completed with its {@link BatchState} once every variation
 * ended (a failed generation does not fail the batch), or Canceled when it was cancelled: every
 * generation not yet ended is cancelled with it, those not yet started never start, and its {@link
 * BatchState} (the results so far included) is in its memo, {@link #MEMO_CANCELLED}.
 *
 * <p>Its history stays bounded: after {@link BatchWorkflowImpl#CHUNK} generations a run lets its
 * generations in flight end, then continues as new, carrying only its compact {@link
 * BatchProgress}.
 */
@WorkflowInterface
public interface BatchWorkflow {

  /** The queue batches run on: served by the API's processes (they admit under the quotas). */
  String TASK_QUEUE = "tempera-batches";

  /** The memo key of a cancelled batch's state (Temporal keeps no details of a cancel). */
  String MEMO_CANCELLED = "cancelled";

  /**
   * The workflow id for a project's batch requestId: {@code batch-<project key>-<requestId>}, the
   * key being the one its generations carry ({@code gen-<project key>-…}).
   */
  static String idFor(String projectId, String requestId) {
    String generation =
        io.tempera.generation.GenerationWorkflow.workflowIdFor(projectId, requestId);
    return "batch-" + generation.substring("gen-".length());
  }

  /**
   * The id of the batch's generation number {@code index} (0-based): {@code gen-<project
   * key>-batch-<requestId>-<index>}, so quotas, GPU time and {@code /api/generations/{id}} count
   * and show it as a generation of its project.
   */
  static String childIdFor(String batchId, int index) {
    String rest = batchId.substring("batch-".length()); // <key>-<requestId>
    int dash = rest.indexOf('-');
    return "gen-" + rest.substring(0, dash) + "-batch-" + rest.substring(dash + 1) + "-" + index;
  }

  /**
   * Runs the batch.
   *
   * @param progress what earlier runs of this batch did (null for its first run)
   */
  @WorkflowMethod
  BatchState run(BatchRequest request, BatchProgress progress);

  /** Where the batch is: its counts, the generations in flight and how each ended one ended. */
  @QueryMethod
  BatchState state();
}
