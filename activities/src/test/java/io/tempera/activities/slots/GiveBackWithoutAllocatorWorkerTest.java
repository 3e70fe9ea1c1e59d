package io.tempera.activities.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import io.temporal.testing.TestWorkflowEnvironment;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A finished run's release never hangs on the allocator: with no worker polling the allocator's
 * queue, the Update is not answered, and the release is signalled instead after {@link
 * SlotAllocatorClient#GIVE_BACK_WAIT}.
 */
class GiveBackWithoutAllocatorWorkerTest {

  @Test
  void aReleaseNoAllocatorWorkerAnswersIsSignalledInstead() {
    TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance();
    try {
      env.start(); // no worker for the allocators' queue
      SlotAllocatorClient slots =
          new SlotAllocatorClient(env.getWorkflowClient(), AllocatorSettings.withoutHostLiveness());
      HostRegistration host =
          new HostRegistration(
              "h1", HostRegistration.taskQueueFor("h1"), List.of(new Gpu(0, 0)), 1);
      slots.registerHost("idle", host); // starts the allocator; nothing runs it
      Lease lease = new Lease("l1", "idle", "gen-a", "h1", host.taskQueue(), 0, 0);

      assertThat(slots.release(lease, "the run finished")).isTrue();
    } finally {
      env.shutdownNow();
    }
  }
}
