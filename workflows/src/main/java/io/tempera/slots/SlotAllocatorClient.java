package io.tempera.slots;

import io.temporal.api.enums.v1.WorkflowIdConflictPolicy;
import io.temporal.client.BatchRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;

/**
 * Talks to a pool's allocator from outside a workflow (a worker at start, an activity): starts it
 * with signal-with-start when it is not running yet, then registers hosts or requests leases.
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
    client.signalWithStart(request);
  }

  /** Asks for a lease: granted at once, or a place in the queue (the lease follows by signal). */
  public LeaseAnswer requestLease(String pool, LeaseRequest lease) {
    SlotAllocatorWorkflow allocator = newStub(pool);
    BatchRequest request = client.newSignalWithStartRequest();
    request.add(allocator::run, AllocatorState.empty(pool, settings));
    request.add(allocator::ping);
    client.signalWithStart(request);
    return client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool)).requestLease(lease);
  }

  /** What the pool's allocator knows now. */
  public AllocatorState state(String pool) {
    return client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool)).state();
  }

  private SlotAllocatorWorkflow newStub(String pool) {
    return client.newWorkflowStub(
        SlotAllocatorWorkflow.class,
        WorkflowOptions.newBuilder()
            .setWorkflowId(SlotAllocatorWorkflow.idFor(pool))
            .setTaskQueue(SlotAllocatorWorkflow.TASK_QUEUE)
            .setWorkflowIdConflictPolicy(WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
            .build());
  }
}
