package io.tempera.activities.slots;

import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Generations that hold slots of one pool, for the allocator's tests: the in-process test server
 * with the allocator's worker (no host liveness) and {@link HolderWorkflow}s that ask for leases
 * through a {@link SlotAllocatorClient}, as a generation does.
 */
final class Holders implements AutoCloseable {

  final TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance();
  final WorkflowClient client = env.getWorkflowClient();
  final SlotAllocatorClient slots;

  /** Where the allocator publishes the places in line. */
  final io.tempera.progress.InProcessProgressBus bus =
      new io.tempera.progress.InProcessProgressBus();

  private final String pool;

  /** What each holder's requests carry beyond the holder's own (as a worker host adds a weight). */
  private final java.util.Map<
          String, java.util.function.UnaryOperator<io.tempera.slots.LeaseRequest>>
      requests = new java.util.concurrent.ConcurrentHashMap<>();

  Holders(String pool) {
    this(pool, AllocatorSettings.withoutHostLiveness());
  }

  Holders(String pool, AllocatorSettings settings) {
    this.pool = pool;
    this.slots = new SlotAllocatorClient(client, settings);
    io.tempera.activities.GenerationActivitySet.registerAllocator(
        env.getWorkerFactory(), client, bus);
    Worker holders = env.newWorker("holders");
    holders.registerWorkflowImplementationTypes(HolderWorkflow.Impl.class);
    holders.registerActivitiesImplementations(
        (HolderWorkflow.Requests)
            (asked, request) ->
                slots.requestLease(
                    asked,
                    requests
                        .getOrDefault(request.holder(), java.util.function.UnaryOperator.identity())
                        .apply(request)));
    env.start();
  }

  /** Starts a holder with workflow id {@code id} asking the pool for 1,000 MB. */
  HolderWorkflow hold(String id) {
    HolderWorkflow holder =
        client.newWorkflowStub(
            HolderWorkflow.class,
            WorkflowOptions.newBuilder().setTaskQueue("holders").setWorkflowId(id).build());
    WorkflowClient.start(holder::hold, pool, 1_000);
    return holder;
  }

  /**
   * Starts a holder with workflow id {@code id} whose request names {@code project} (null: none),
   * {@code priority} (null: none) and its project's {@code weight} (null: none).
   */
  HolderWorkflow hold(String id, String project, Integer priority, Integer weight) {
    requests.put(
        id,
        r ->
            new io.tempera.slots.LeaseRequest(
                r.holder(), r.vramMb(), r.functionId(), r.tier(), project, priority, weight));
    return hold(id);
  }

  /** Ends the holder {@code id} (its lease goes back) and waits for it to close. */
  void finish(String id) {
    client.newWorkflowStub(HolderWorkflow.class, id).finish();
    client.newUntypedWorkflowStub(id).getResult(String.class);
  }

  AllocatorState state() {
    return slots.state(pool);
  }

  SlotAllocatorWorkflow allocator() {
    return client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool));
  }

  static void eventually(String what, Supplier<Boolean> condition) {
    org.awaitility.Awaitility.await(what).atMost(Duration.ofSeconds(20)).until(condition::get);
  }

  @Override
  public void close() {
    env.close();
  }
}
