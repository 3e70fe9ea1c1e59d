package io.tempera.activities.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostDrain;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.client.WorkflowClient;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An operator drains a host (no new lease goes there, the leases it holds run on) and puts it back,
 * on the in-process test server; the drained hosts outlive continue-as-new and the host's own
 * re-registration.
 */
class HostDrainTest {

  private static final String POOL = "drain";
  private final Holders holders = new Holders(POOL);
  private final WorkflowClient client = holders.client;
  private final SlotAllocatorClient slots = holders.slots;

  @AfterEach
  void tearDown() {
    holders.close();
  }

  private void host(String id, int maxLeases) {
    slots.registerHost(
        POOL,
        new HostRegistration(
            id, HostRegistration.taskQueueFor(id), List.of(new Gpu(0, 8_000)), maxLeases));
  }

  @Test
  void aDrainedHostGetsNoNewLeaseWhileItsLeasesRunOnAndTakesLeasesAgainOnceUndrained() {
    host("h1", 2);
    host("h2", 1);
    HolderWorkflow a = holders.hold("gen-a");
    Holders.eventually("a holds a slot on h1", () -> a.lease() != null);
    assertThat(a.lease().hostId()).isEqualTo("h1");

    holders.allocator().drain(HostDrain.drain("h1", "maintenance"));
    Holders.eventually("h1 is drained", () -> holders.state().drainedHosts().contains("h1"));
    assertThat(holders.state().leases()).extracting(l -> l.holder()).containsExactly("gen-a");

    // h1 has room for one more, but it is drained: b goes to h2, c waits
    HolderWorkflow b = holders.hold("gen-b");
    Holders.eventually("b holds a slot", () -> b.lease() != null);
    assertThat(b.lease().hostId()).isEqualTo("h2");
    HolderWorkflow c = holders.hold("gen-c");
    Holders.eventually("c waits in line", () -> holders.state().waiters().size() == 1);
    assertThat(c.lease()).isNull();

    // a's lease on the drained host ran on untouched, and ends as usual
    holders.finish("gen-a");
    Holders.eventually("a's lease went back", () -> holders.state().leases().size() == 1);
    assertThat(holders.state().waiters()).hasSize(1); // h1 empty, still drained: c keeps waiting

    holders.allocator().drain(HostDrain.undrain("h1", "done"));
    Holders.eventually("c holds a slot on h1", () -> c.lease() != null);
    assertThat(c.lease().hostId()).isEqualTo("h1");
    assertThat(holders.state().drainedHosts()).isEmpty();
    holders.finish("gen-b");
    holders.finish("gen-c");
  }

  @Test
  void aDrainOutlivesTheHostsReRegistrationAndIsIdempotent() {
    host("h1", 1);
    holders.allocator().drain(HostDrain.drain("h1", "first"));
    holders.allocator().drain(HostDrain.drain("h1", "twice"));
    Holders.eventually("h1 is drained", () -> holders.state().drainedHosts().equals(List.of("h1")));
    host("h1", 1); // the worker restarted on the drained host
    HolderWorkflow a = holders.hold("gen-a");
    Holders.eventually("a waits in line", () -> holders.state().waiters().size() == 1);
    assertThat(holders.state().drainedHosts()).containsExactly("h1");
    assertThat(a.lease()).isNull();
    holders.allocator().drain(HostDrain.undrain("h1", null));
    Holders.eventually("a holds a slot on h1", () -> a.lease() != null);
    holders.finish("gen-a");
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
    Holders.eventually(
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
