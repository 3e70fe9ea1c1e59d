package io.tempera.activities.slots;

import io.tempera.activities.PhaseEvents;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.Lease;
import io.tempera.slots.SlotAllocatorActivities;
import io.tempera.slots.WaitingPlace;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import java.util.ArrayList;
import java.util.List;

/** Looks holders up on the Temporal server; tells waiters their places over the progress bus. */
public class SlotAllocatorActivitiesImpl implements SlotAllocatorActivities {

  private final WorkflowClient client;
  private final PhaseEvents phases;

  public SlotAllocatorActivitiesImpl(WorkflowClient client, ProgressBus progress) {
    this.client = client;
    this.phases = new PhaseEvents(progress);
  }

  @Override
  public void publishPlaces(List<WaitingPlace> places) {
    places.forEach(place ->
        phases.waitingInLine(
            place.holder(), place.position(), place.waitSeconds(), place.etaSeconds()));
  }

  @Override
  public void publishMoves(List<Lease> revoked, String reason) {
    revoked.forEach(lease -> phases.moving(lease.holder(), reason));
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
