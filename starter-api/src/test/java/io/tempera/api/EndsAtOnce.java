package io.tempera.api;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseRevocation;
import io.tempera.slots.QueuePosition;

/**
 * A stand-in generation for API tests: its {@code run} ends at once with a result it sets, its
 * state is that result's, and it ignores the slot allocator's signals.
 */
public abstract class EndsAtOnce implements GenerationWorkflow {

  protected GenerationResult result;

  @Override
  public GenerationState state() {
    return result == null ? null : result.asState();
  }

  @Override
  public void slotGranted(Lease lease) {}

  @Override
  public void slotRejected(String reason) {}

  @Override
  public void slotRevoked(LeaseRevocation revocation) {}

  @Override
  public void slotQueuePosition(QueuePosition position) {}
}
