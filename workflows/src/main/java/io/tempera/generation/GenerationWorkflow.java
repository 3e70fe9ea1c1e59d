package io.tempera.generation;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/** One generation, from request to stored outputs. */
@WorkflowInterface
public interface GenerationWorkflow extends io.tempera.slots.SlotHolder {

  /** The queue of generations started before per-tier queues (still served, for those running). */
  String TASK_QUEUE = "tempera-generations";

  /** The task queue generations of a tier start on (draft, standard, high, ultra). */
  static String taskQueueFor(String tier) {
    return TASK_QUEUE + "-" + tier;
  }

  /** The workflow id for a client's requestId, so a retried POST finds the same generation. */
  static String workflowIdFor(String requestId) {
    return "gen-" + requestId;
  }

  @WorkflowMethod
  GenerationResult run(GenerationRequest request);

  @QueryMethod
  GenerationState state();

  @SignalMethod
  void cancel(String reason);
}
