package io.tempera.webhooks;

import io.temporal.api.enums.v1.ParentClosePolicy;
import io.temporal.failure.TemporalFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.ChildWorkflowOptions;
import io.temporal.workflow.Workflow;
import java.util.Map;
import org.slf4j.Logger;

/**
 * Starting a webhook's delivery from the workflow whose end it tells (a generation's, a batch's): a
 * child on {@link WebhookDeliveryWorkflow#TASK_QUEUE} that the workflow does not wait for
 * (abandoned when it closes), waited for only until it started (a child not yet started when its
 * parent closes would never start), in a detached scope so it starts even when the workflow was
 * cancelled. Workflow code: call it from a workflow thread.
 */
public final class WebhookDeliveries {

  private static final Logger log = Workflow.getLogger(WebhookDeliveries.class);

  private WebhookDeliveries() {}

  /** Starts the delivery of {@code event} for the workflow {@code ownerId} of {@code projectId}. */
  public static void start(String ownerId, String projectId, WebhookEvent event) {
    Workflow.newDetachedCancellationScope(
            () -> {
              WebhookDeliveryWorkflow delivery =
                  Workflow.newChildWorkflowStub(
                      WebhookDeliveryWorkflow.class,
                      ChildWorkflowOptions.newBuilder()
                          .setWorkflowId(WebhookDeliveryWorkflow.idFor(ownerId))
                          .setTaskQueue(WebhookDeliveryWorkflow.TASK_QUEUE)
                          .setParentClosePolicy(ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON)
                          .setMemo(Map.of("projectId", projectId))
                          .setStaticSummary("Webhook: " + event.type() + " of " + ownerId)
                          .build());
              Async.function(delivery::deliver, event);
              try {
                Workflow.getWorkflowExecution(delivery).get();
              } catch (TemporalFailure notStarted) {
                log.warn(
                    "{}: its webhook delivery did not start: {}", ownerId, notStarted.getMessage());
              }
            })
        .run();
  }
}
