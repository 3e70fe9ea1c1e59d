package io.tempera.activities.slots;

import io.tempera.slots.SlotAllocatorActivities;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import java.util.ArrayList;
import java.util.List;

/** Looks holders up on the Temporal server. */
public class SlotAllocatorActivitiesImpl implements SlotAllocatorActivities {

  private final WorkflowClient client;

  public SlotAllocatorActivitiesImpl(WorkflowClient client) {
    this.client = client;
  }

  @Override
  public List<String> closedHolders(List<String> holders) {
    List<String> closed = new ArrayList<>();
    for (String holder : holders) {
      try {
        WorkflowExecutionStatus status =
            client.newUntypedWorkflowStub(holder).describe().getStatus();
        if (status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
          closed.add(holder);
        }
      } catch (WorkflowNotFoundException e) {
        closed.add(holder);
      } catch (io.grpc.StatusRuntimeException e) {
        if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
          closed.add(holder);
        } else {
          throw e;
        }
      }
    }
    return closed;
  }
}
