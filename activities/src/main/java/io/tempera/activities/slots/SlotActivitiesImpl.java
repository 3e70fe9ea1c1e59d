package io.tempera.activities.slots;

import io.tempera.activities.PhaseEvents;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.Phase;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotActivities;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;

/** Asks the pool's slot allocator for leases, sized by the plan (else the pool's default). */
public class SlotActivitiesImpl implements SlotActivities {

  private final SlotAllocatorClient allocator;
  private final String pool;
  private final int defaultVramMb;
  private final PhaseEvents phases;

  public SlotActivitiesImpl(
      SlotAllocatorClient allocator, String pool, int defaultVramMb, PhaseEvents phases) {
    this.allocator = allocator;
    this.pool = pool;
    this.defaultVramMb = Math.max(0, defaultVramMb);
    this.phases = phases;
  }

  @Override
  public LeaseAnswer requestLease(LeaseRequest request) {
    LeaseRequest sized =
        request.vramMb() > 0
            ? request
            : new LeaseRequest(
                request.holder(), defaultVramMb, request.functionId(), request.tier());
    LeaseAnswer answer;
    try {
      answer = allocator.requestLease(pool, sized);
    } catch (WorkflowUpdateException e) {
      if (e.getCause() instanceof ApplicationFailure app
          && IllegalArgumentException.class.getName().equals(app.getType())) {
        throw ApplicationFailure.newNonRetryableFailure(
            "The slot allocator refused the lease request: " + app.getOriginalMessage(),
            ErrorCode.INVALID_REQUEST.name());
      }
      // e.g. the allocator's run closed while continuing as new: asking again reaches the new run
      throw ApplicationFailure.newFailure(
          "The slot allocator did not answer: " + rootMessage(e), ErrorCode.BACKEND_BUSY.name());
    }
    if (!answer.granted() && answer.rejection() == null) {
      phases.entered(
          request.holder(),
          Phase.WAITING_FOR_SLOT,
          0.02,
          "Waiting for a GPU (" + answer.queuePosition() + " in line)",
          answer.queuePosition());
    }
    return answer;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t instanceof ApplicationFailure app ? app.getOriginalMessage() : t.getMessage();
  }
}
