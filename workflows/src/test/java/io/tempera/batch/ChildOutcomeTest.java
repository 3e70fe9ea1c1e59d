package io.tempera.batch;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.GenerationStatus;
import io.temporal.api.common.v1.WorkflowExecution;
import io.temporal.api.enums.v1.RetryState;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.ChildWorkflowFailure;
import org.junit.jupiter.api.Test;

/** How a batch tells how a child generation ended, from what the SDK hands it. */
class ChildOutcomeTest {

  @Test
  void aChildCancelledBeforeItStartedIsCancelledNotFailed() {
    // the SDK hands a child cancelled before its start the CanceledFailure itself
    ChildOutcome outcome = BatchWorkflowImpl.outcomeOf(3, null, new CanceledFailure("cancelled"));
    assertThat(outcome.index()).isEqualTo(3);
    assertThat(outcome.status()).isEqualTo(GenerationStatus.CANCELLED);
  }

  @Test
  void aChildCancelledWhileItRanIsCancelled() {
    ChildWorkflowFailure ended =
        new ChildWorkflowFailure(
            0,
            0,
            "GenerationWorkflow",
            WorkflowExecution.newBuilder().setWorkflowId("gen-x-batch-b-1").build(),
            "default",
            RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE,
            new CanceledFailure("cancelled"));
    assertThat(BatchWorkflowImpl.outcomeOf(1, null, ended).status())
        .isEqualTo(GenerationStatus.CANCELLED);
  }
}
