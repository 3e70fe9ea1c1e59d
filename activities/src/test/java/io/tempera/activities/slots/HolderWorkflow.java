package io.tempera.activities.slots;

import io.tempera.slots.*;
import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityOptions;
import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.Workflow;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;
import java.time.Duration;

/**
 * A minimal lease holder for allocator tests: asks for a lease, holds it until told, gives it back.
 */
@WorkflowInterface
public interface HolderWorkflow extends SlotHolder {

  @WorkflowMethod
  String hold(String pool, int vramMb);

  @SignalMethod
  void finish();

  @QueryMethod
  Lease lease();

  @QueryMethod
  int position();

  /** The revocation of its lease, if the allocator took it back. */
  @QueryMethod
  LeaseRevocation revoked();

  @ActivityInterface
  interface Requests {
    LeaseAnswer request(String pool, LeaseRequest request);
  }

  class Impl implements HolderWorkflow {
    private final Requests requests =
        Workflow.newActivityStub(
            Requests.class,
            ActivityOptions.newBuilder().setStartToCloseTimeout(Duration.ofSeconds(10)).build());
    private Lease lease;
    private int position;
    private long seq = -1;
    private boolean finished;
    private String rejected;
    private LeaseRevocation revoked;

    /** A holder whose id is {@code <tier>:<rest>} asks for that tier; any other, standard. */
    static String tierOf(String holder) {
      int colon = holder.indexOf(':');
      return colon > 0 ? holder.substring(0, colon) : "standard";
    }

    @Override
    public String hold(String pool, int vramMb) {
      String holder = Workflow.getInfo().getWorkflowId();
      try {
        LeaseAnswer answer =
            requests.request(pool, new LeaseRequest(holder, vramMb, "f", tierOf(holder)));
        if (answer.rejection() != null) {
          return "rejected: " + answer.rejection();
        }
        if (answer.granted()) {
          lease = answer.lease();
        } else if (answer.seq() > seq) {
          position = answer.queuePosition();
          seq = answer.seq();
        }
        Workflow.await(() -> lease != null || rejected != null);
        if (lease == null) {
          return "rejected: " + rejected;
        }
        position = 0;
        Workflow.await(() -> finished);
        return lease.leaseId();
      } finally {
        Workflow.newDetachedCancellationScope(() ->
                Workflow.newExternalWorkflowStub(
                        SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool))
                    .release(new LeaseRelease(holder, null, "done")))
            .run();
      }
    }

    @Override
    public void slotGranted(Lease granted) {
      lease = granted;
    }

    @Override
    public void slotQueuePosition(QueuePosition p) {
      if (p.seq() > seq && lease == null) {
        position = p.position();
        seq = p.seq();
      }
    }

    @Override
    public void slotRevoked(LeaseRevocation revocation) {
      if (lease != null && lease.hostId().equals(revocation.hostId())) {
        revoked = revocation;
      }
    }

    @Override
    public LeaseRevocation revoked() {
      return revoked;
    }

    @Override
    public void slotRejected(String reason) {
      rejected = reason;
    }

    @Override
    public void finish() {
      finished = true;
    }

    @Override
    public Lease lease() {
      return lease;
    }

    @Override
    public int position() {
      return position;
    }
  }
}
