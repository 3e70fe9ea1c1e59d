package io.tempera.activities.slots;

import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRelease;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.client.BatchRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;

/**
 * Talks to a pool's allocator from outside a workflow (a worker at start, an activity), starting it
 * when it is not running yet, each call in one RPC: a host registers by signal-with-start, a lease
 * is asked for by an Update (update-with-start when no allocator runs yet).
 */
public final class SlotAllocatorClient {

  private final WorkflowClient client;
  private final AllocatorSettings settings;

  public SlotAllocatorClient(WorkflowClient client, AllocatorSettings settings) {
    this.client = client;
    this.settings = settings == null ? AllocatorSettings.defaults() : settings;
  }

  /** Registers (or re-registers) a host with the pool, starting its allocator if needed. */
  public void registerHost(String pool, HostRegistration host) {
    SlotAllocatorWorkflow allocator = newStub(pool);
    BatchRequest request = client.newSignalWithStartRequest();
    request.add(allocator::run, AllocatorState.empty(pool, settings));
    request.add(allocator::registerHost, host);
    for (int attempt = 1; ; attempt++) {
      try {
        client.signalWithStart(request);
        return;
      } catch (io.temporal.client.WorkflowServiceException e) {
        // the in-process test server answers NOT_FOUND ("Completed workflow") to a signal-with-
        // start that meets the run the allocator just continued as new from: asked again, it
        // reaches the next run (seen once in SlotAllocatorWorkflowTest)
        if (!(e.getCause() instanceof io.grpc.StatusRuntimeException status
                && status.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND)
            || attempt >= HANDOVER_TRIES) {
          throw e;
        }
        backOff(attempt, e);
      }
    }
  }

  /** Sleeps before try {@code attempt + 1} of a call that met a run just continued as new. */
  private static void backOff(int attempt, RuntimeException failure) {
    try {
      Thread.sleep(50L * attempt);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw failure;
    }
  }

  /**
   * Asks for a lease: granted at once, or a place in the queue (the lease follows by signal). One
   * RPC, an Update of the pool's running allocator. A lease request never starts an allocator: one
   * started without the hosts' registrations could grant nothing (the hosts start it, registering);
   * {@code WorkflowNotFoundException} when none runs yet.
   */
  public LeaseAnswer requestLease(String pool, LeaseRequest lease) {
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool));
    long handOverUntil = System.nanoTime() + HAND_OVER_WAIT.toNanos();
    for (int attempt = 1; ; attempt++) {
      try {
        return allocator.requestLease(lease);
      } catch (io.temporal.client.WorkflowUpdateException e) {
        // refused while the run hands over to its next one: asked again, it reaches that one
        if (!handingOver(e) || System.nanoTime() > handOverUntil) {
          throw e;
        }
        pause();
        attempt = 0; // the not-found tries count from here
        continue;
      } catch (io.temporal.client.WorkflowNotFoundException e) {
        // an Update that meets the run the allocator just continued as new from ("Completed
        // workflow") is tried again on the next run; a pool with no allocator stays not found
        if (attempt >= HANDOVER_TRIES) {
          throw e;
        }
        backOff(attempt, e);
      }
    }
  }

  /** How often a lease request meets an allocator's hand-over before it is not found for good. */
  private static final int HANDOVER_TRIES = 4;

  /**
   * How long a request refused during an allocator's hand-over is asked again before it fails (a
   * hand-over waits for the run's grants on their way; it takes milliseconds to a second).
   */
  static final java.time.Duration HAND_OVER_WAIT = java.time.Duration.ofSeconds(30);

  /** Whether an Update was refused because the allocator's run hands over to its next one. */
  static boolean handingOver(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof io.temporal.failure.ApplicationFailure application
          && io.tempera.slots.SlotAllocatorWorkflowImpl.HANDING_OVER.equals(
              application.getOriginalMessage())) {
        return true;
      }
    }
    return false;
  }

  /**
   * The pause before a request refused during a hand-over is asked again. Each refused Update is a
   * workflow task of the allocator's worker: polling fast would slow the hand-over it waits for.
   */
  static final long HAND_OVER_PAUSE_MILLIS = 25;

  private static void pause() {
    try {
      Thread.sleep(HAND_OVER_PAUSE_MILLIS);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the slot allocator hands over");
    }
  }

  /** How long a release by Update may wait for the allocator before the signal is sent instead. */
  static final java.time.Duration GIVE_BACK_WAIT = java.time.Duration.ofSeconds(5);

  /**
   * Gives {@code lease} back to its pool's allocator (matched by holder and host; idempotent): an
   * Update, which never refuses the allocator's continue-as-new as a signal would. A signal instead
   * when the Update fails (it came while the allocator handed over to its next run) or has not been
   * answered within {@link #GIVE_BACK_WAIT} (no allocator worker polls: a run must not hang on it;
   * a late Update gives the same lease back again). False when no allocator of that pool runs.
   */
  public boolean release(Lease lease, String reason) {
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(
            SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(lease.pool()));
    LeaseRelease release = LeaseRelease.ofLease(lease, reason);
    java.util.concurrent.CompletableFuture<Void> given =
        new java.util.concurrent.CompletableFuture<>();
    Thread.ofVirtual()
        .name("give-back-" + lease.holder())
        .start(() -> {
          long until = System.nanoTime() + GIVE_BACK_WAIT.toNanos();
          while (true) {
            try {
              allocator.giveBack(release);
              given.complete(null);
              return;
            } catch (RuntimeException e) {
              // refused during a hand-over: asked again, it reaches the next run
              if (!handingOver(e) || System.nanoTime() > until) {
                given.completeExceptionally(e);
                return;
              }
              try {
                Thread.sleep(HAND_OVER_PAUSE_MILLIS);
              } catch (InterruptedException interrupted) {
                given.completeExceptionally(e);
                return;
              }
            }
          }
        });
    try {
      given.get(GIVE_BACK_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException e) {
      // refused, or no run found: an Update can find the run that just continued as new; the
      // signal below reaches whichever run is current, and fails only when the allocator is
      // really gone
    } catch (java.util.concurrent.TimeoutException slow) {
      // fall through to the signal
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      allocator.release(release); // reaches the run that is current now
      return true;
    } catch (io.temporal.client.WorkflowNotFoundException gone) {
      return false;
    }
  }

  /** What the pool's allocator knows now. */
  public AllocatorState state(String pool) {
    return client
        .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool))
        .state();
  }

  private SlotAllocatorWorkflow newStub(String pool) {
    return client.newWorkflowStub(
        SlotAllocatorWorkflow.class,
        WorkflowOptions.newBuilder()
            .setWorkflowId(SlotAllocatorWorkflow.idFor(pool))
            .setTaskQueue(SlotAllocatorWorkflow.TASK_QUEUE)
            .setWorkflowIdConflictPolicy(
                WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
            .build());
  }
}
