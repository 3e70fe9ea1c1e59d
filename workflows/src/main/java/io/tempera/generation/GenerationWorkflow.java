package io.tempera.generation;

import io.tempera.slots.SlotHolder;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/**
 * One generation, from request to stored outputs. It ends the Temporal way: Completed with its
 * {@link GenerationResult} when it succeeded, Failed with an {@code ApplicationFailure} whose type
 * is the {@link ErrorCode} (details: the {@link GenerationError}, then the {@link
 * GenerationResult}), Canceled when its cancellation was requested (a Canceled workflow carries no
 * details: its {@link GenerationResult} is in its memo, {@link GenerationEnds#MEMO_CANCELLED}).
 * Cancel it with Temporal's cancel, from the API or the Temporal UI alike.
 */
@WorkflowInterface
public interface GenerationWorkflow extends SlotHolder {

  /** The prefix of the queues generations start on. */
  String TASK_QUEUE = "tempera-generations";

  /** The task queue generations of a tier start on (draft, standard, high, ultra). */
  static String taskQueueFor(String tier) {
    return TASK_QUEUE + "-" + tier;
  }

  /**
   * The workflow id for a project's requestId, so a retried POST finds the same generation. The id
   * carries a tag of the project (the first 10 hex digits of its SHA-256): the same requestId sent
   * for two projects names two generations.
   */
  static String workflowIdFor(String projectId, String requestId) {
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(projectId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return "gen-" + java.util.HexFormat.of().formatHex(digest, 0, 5) + "-" + requestId;
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  @WorkflowMethod
  GenerationResult run(GenerationRequest request);

  /** Where a running generation is. A generation that ended is read from its result or failure. */
  @QueryMethod
  GenerationState state();
}
