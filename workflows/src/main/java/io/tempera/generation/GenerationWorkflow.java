package io.tempera.generation;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/** One generation, from request to stored outputs. */
@WorkflowInterface
public interface GenerationWorkflow {

  String TASK_QUEUE = "tempera-generations";

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
