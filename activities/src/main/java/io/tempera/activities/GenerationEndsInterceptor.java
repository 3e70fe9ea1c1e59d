package io.tempera.activities;

import io.tempera.generation.GenerationWorkflow;
import io.tempera.progress.ProgressBus;
import io.temporal.common.interceptors.WorkerInterceptorBase;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptor;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptorBase;
import io.temporal.workflow.Workflow;

/**
 * Tells a generation's followers on the progress bus that its workflow ended, so an API learns of
 * the end without holding a long poll on Temporal for every generation it follows. The notice is a
 * hint, sent when the workflow method returns or fails (not while a worker replays it, and not when
 * a worker evicts it from its cache): a follower then reads the end from Temporal, which answers
 * once the workflow's completion is recorded.
 *
 * <p>Like a log line or a metric it adds no command and nothing to the history, so it is no change
 * to the workflow's behaviour and every history replays as before.
 */
public final class GenerationEndsInterceptor extends WorkerInterceptorBase {

  private static final String GENERATION =
      GenerationWorkflow.class.getSimpleName(); // the workflow type's default name

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(GenerationEndsInterceptor.class);

  private final ProgressBus progress;

  public GenerationEndsInterceptor(ProgressBus progress) {
    this.progress = progress;
    progress.endsPublishedHere();
  }

  @Override
  public WorkflowInboundCallsInterceptor interceptWorkflow(WorkflowInboundCallsInterceptor next) {
    return new WorkflowInboundCallsInterceptorBase(next) {
      @Override
      public WorkflowOutput execute(WorkflowInput input) {
        if (!GENERATION.equals(Workflow.getInfo().getWorkflowType())) {
          return super.execute(input);
        }
        WorkflowOutput output;
        try {
          output = super.execute(input);
        } catch (RuntimeException failedOrCancelled) {
          // an Error here is the worker destroying the workflow's thread (eviction): no end
          tellFollowers();
          throw failedOrCancelled;
        }
        tellFollowers();
        return output;
      }
    };
  }

  private void tellFollowers() {
    if (Workflow.isReplaying()) {
      return;
    }
    try {
      progress.publishEnd(Workflow.getInfo().getWorkflowId());
    } catch (RuntimeException e) {
      // a hint: whatever happens to it must not change how the workflow ends
      log.warn("the end of {} was not told: {}", Workflow.getInfo().getWorkflowId(), e.toString());
    }
  }
}
