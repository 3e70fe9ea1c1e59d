package io.tempera.activities.slots;

import io.tempera.activities.PhaseEvents;
import io.tempera.generation.ErrorCode;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotActivities;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowUpdateException;
import io.temporal.failure.ApplicationFailure;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Asks the pool's slot allocator for leases, sized by the plan (else the pool's default). */
public class SlotActivitiesImpl implements SlotActivities {

  private static final Logger log = LoggerFactory.getLogger(SlotActivitiesImpl.class);

  private final SlotAllocatorClient allocator;
  private final String pool;
  private final HostRegistration self;
  private final int defaultVramMb;
  private final PhaseEvents phases;

  /**
   * @param self this host's registration: when the pool's allocator is not running (terminated by
   *     an operator, or closed), this host registers again, which starts it, and asks once more
   */
  public SlotActivitiesImpl(
      SlotAllocatorClient allocator,
      String pool,
      HostRegistration self,
      int defaultVramMb,
      PhaseEvents phases) {
    this.allocator = allocator;
    this.pool = pool;
    this.self = self;
    this.defaultVramMb = Math.max(0, defaultVramMb);
    this.phases = phases;
  }

  @Override
  public LeaseAnswer requestLease(LeaseRequest request) {
    LeaseRequest sized = request.vramMb() > 0 ? request : request.withVramMb(defaultVramMb);
    LeaseAnswer answer;
    try {
      answer = askAllocator(sized);
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
      phases.waitingInLine(request.holder(), answer.queuePosition());
    }
    return answer;
  }

  /** Asks the allocator; when none runs, registers this host (starting it) and asks once more. */
  private LeaseAnswer askAllocator(LeaseRequest request) {
    try {
      return allocator.requestLease(pool, request);
    } catch (WorkflowNotFoundException notRunning) {
      if (self == null) {
        throw ApplicationFailure.newFailure(
            "The slot allocator of pool " + pool + " is not running: no worker host has registered",
            ErrorCode.BACKEND_BUSY.name());
      }
      log.warn(
          "slot pool {}: the allocator is not running; host {} registers again, starting it",
          pool,
          self.hostId());
      allocator.registerHost(pool, self);
      return allocator.requestLease(pool, request);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t instanceof ApplicationFailure app ? app.getOriginalMessage() : t.getMessage();
  }
}
