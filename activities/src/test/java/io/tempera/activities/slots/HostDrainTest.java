package io.tempera.activities.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostDrain;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An operator drains a host (no new lease goes there, the leases it holds run on) and puts it back,
 * on the in-process test server; the drained hosts outlive continue-as-new and the host's own
 * re-registration.
 */
class HostDrainTest {

  private static final String POOL = "drain";
  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private SlotAllocatorClient slots;

  @BeforeEach
  void setUp() {
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    io.tempera.activities.GenerationActivitySet.registerAllocator(
        env.getWorkerFactory(), client, new io.tempera.progress.InProcessProgressBus());
    Worker holders = env.newWorker("holders");
    holders.registerWorkflowImplementationTypes(HolderWorkflow.Impl.class);
    slots = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    holders.registerActivitiesImplementations((HolderWorkflow.Requests) slots::requestLease);
    env.start();
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  private void host(String id, int maxLeases) {
    slots.registerHost(
        POOL,
        new HostRegistration(
            id, HostRegistration.taskQueueFor(id), List.of(new Gpu(0, 8_000)), maxLeases));
  }

  private HolderWorkflow hold(String id) {
    HolderWorkflow holder =
        client.newWorkflowStub(
            HolderWorkflow.class,
            WorkflowOptions.newBuilder().setTaskQueue("holders").setWorkflowId(id).build());
    WorkflowClient.start(holder::hold, POOL, 1_000);
    return holder;
  }

  private SlotAllocatorWorkflow allocator() {
    return client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(POOL));
  }

  private AllocatorState state() {
    return slots.state(POOL);
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    org.awaitility.Awaitility.await(what).atMost(Duration.ofSeconds(20)).until(condition::get);
  }

  private void finish(String id) {
    client.newWorkflowStub(HolderWorkflow.class, id).finish();
    client.newUntypedWorkflowStub(id).getResult(String.class);
  }

  @Test
  void aDrainedHostGetsNoNewLeaseWhileItsLeasesRunOnAndTakesLeasesAgainOnceUndrained() {
    host("h1", 2);
    host("h2", 1);
    HolderWorkflow a = hold("gen-a");
    eventually("a holds a slot on h1", () -> a.lease() != null);
    assertThat(a.lease().hostId()).isEqualTo("h1");

    allocator().drain(HostDrain.drain("h1", "maintenance"));
    eventually("h1 is drained", () -> state().drainedHosts().contains("h1"));
    assertThat(state().leases()).extracting(l -> l.holder()).containsExactly("gen-a");

    // h1 has room for one more, but it is drained: b goes to h2, c waits
    HolderWorkflow b = hold("gen-b");
    eventually("b holds a slot", () -> b.lease() != null);
    assertThat(b.lease().hostId()).isEqualTo("h2");
    HolderWorkflow c = hold("gen-c");
    eventually("c waits in line", () -> state().waiters().size() == 1);
    assertThat(c.lease()).isNull();

    // a's lease on the drained host ran on untouched, and ends as usual
    finish("gen-a");
    eventually("a's lease went back", () -> state().leases().size() == 1);
    assertThat(state().waiters()).hasSize(1); // h1 empty, still drained: c keeps waiting

    allocator().drain(HostDrain.undrain("h1", "done"));
    eventually("c holds a slot on h1", () -> c.lease() != null);
    assertThat(c.lease().hostId()).isEqualTo("h1");
    assertThat(state().drainedHosts()).isEmpty();
    finish("gen-b");
    finish("gen-c");
  }

  @Test
  void aDrainOutlivesTheHostsReRegistrationAndIsIdempotent() {
    host("h1", 1);
    allocator().drain(HostDrain.drain("h1", "first"));
    allocator().drain(HostDrain.drain("h1", "twice"));
    eventually("h1 is drained", () -> state().drainedHosts().equals(List.of("h1")));
    host("h1", 1); // the worker restarted on the drained host
    HolderWorkflow a = hold("gen-a");
    eventually("a waits in line", () -> state().waiters().size() == 1);
    assertThat(state().drainedHosts()).containsExactly("h1");
    assertThat(a.lease()).isNull();
    allocator().drain(HostDrain.undrain("h1", null));
    eventually("a holds a slot on h1", () -> a.lease() != null);
    finish("gen-a");
  }

  @Test
  void theDrainedHostsAreCarriedAcrossContinueAsNew() {
    SlotAllocatorClient smallHistory =
        new SlotAllocatorClient(client, new AllocatorSettings(30, 20, -1));
    String pool = "drain-small";
    smallHistory.registerHost(
        pool,
        new HostRegistration(
            "h1", HostRegistration.taskQueueFor("h1"), List.of(new Gpu(0, 8_000)), 1));
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool));
    allocator.drain(HostDrain.drain("h1", "maintenance"));
    String firstRun =
        client
            .newUntypedWorkflowStub(SlotAllocatorWorkflow.idFor(pool))
            .describe()
            .getExecution()
            .getRunId();
    // each registration is an event: enough of them pass the 20-event limit
    for (int i = 0; i < 40; i++) {
      smallHistory.registerHost(
          pool,
          new HostRegistration(
              "h1", HostRegistration.taskQueueFor("h1"), List.of(new Gpu(0, 8_000)), 1));
    }
    eventually(
        "the allocator continued as new",
        () ->
            !client
                .newUntypedWorkflowStub(SlotAllocatorWorkflow.idFor(pool))
                .describe()
                .getExecution()
                .getRunId()
                .equals(firstRun));
    assertThat(smallHistory.state(pool).drainedHosts()).containsExactly("h1");
  }
}
