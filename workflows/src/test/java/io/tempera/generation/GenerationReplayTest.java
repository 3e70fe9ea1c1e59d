package io.tempera.generation;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.Worker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replays recorded histories of the generation workflow against today's code: a change that would
 * break a running generation fails here. Record new ones with
 * {@code mvn -pl workflows test -Dtest=GenerationReplayTest -Dtempera.record-histories=true}.
 */
class GenerationReplayTest {

  static final Path HISTORIES = Path.of("src/test/resources/histories");

  @ParameterizedTest
  @ValueSource(strings = {
      "generation-succeeded-v1.json", "generation-cancelled-v1.json", "generation-failed-v1.json",
      "generation-oom-fallback-v2.json", "generation-partial-outputs-v3.json",
      "generation-model-fallback-on-host-v4.json", "generation-waited-in-line-v4.json",
      "generation-stalled-run-again-v5.json"})
  void recordedHistoriesStillReplay(String file) throws Exception {
    Path path = HISTORIES.resolve(file);
    assertThat(path).exists();
    WorkflowExecutionHistory history = WorkflowExecutionHistory.fromJson(Files.readString(path));
    assertThat(history.getEvents()).hasSizeGreaterThan(10);
    WorkflowReplayer.replayWorkflowExecution(history, GenerationWorkflowImpl.class);
  }

  @Test
  @EnabledIfSystemProperty(named = "tempera.record-histories", matches = "true")
  void recordHistories() throws Exception {
    try (TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance()) {
      Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      FakeGenerationActivities activities = new FakeGenerationActivities();
      activities.busyAttempts = 1;
      worker.registerActivitiesImplementations(activities);
      WorkflowClient client = env.getWorkflowClient();
      activities.allocator = new io.tempera.slots.SlotAllocatorClient(client, io.tempera.slots.AllocatorSettings.defaults());
      String hostQueue = io.tempera.slots.HostRegistration.taskQueueFor("h1");
      env.newWorker(hostQueue).registerActivitiesImplementations(activities);
      Worker slots = env.newWorker(io.tempera.slots.SlotAllocatorWorkflow.TASK_QUEUE);
      slots.registerWorkflowImplementationTypes(io.tempera.slots.SlotAllocatorWorkflowImpl.class);
      slots.registerActivitiesImplementations(new io.tempera.slots.SlotAllocatorActivitiesImpl(client));
      env.start();
      activities.allocator.registerHost(activities.pool,
          new io.tempera.slots.HostRegistration("h1", hostQueue, List.of(new io.tempera.slots.Gpu(0, 24_000)), 1));

      // v5 (phase-timeouts): the template's phase timeouts; the first run stalls, is run again
      // under a new run id and succeeds; outputs collected within the template's output timeout
      if (!Files.exists(HISTORIES.resolve("generation-stalled-run-again-v5.json"))) {
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        activities.timeouts = new PhaseTimeouts(600, null, 60, 30, 20);
        activities.backend = job -> {
          if (runs.incrementAndGet() == 1) {
            throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
                "The generator made no progress for 30 s; the run was stopped", ErrorCode.STALLED.name());
          }
          return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
        };
        stub(client, "gen-recorded-stalled").run(request());
        save(client, "gen-recorded-stalled", "generation-stalled-run-again-v5.json");
        activities.timeouts = null;
        activities.backend = job -> new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
      }
      // v4 (slot-allocator-leases): lease from the allocator, the model fails to load, its fallback
      // runs, every later step on the host's queue
      if (!Files.exists(HISTORIES.resolve("generation-model-fallback-on-host-v4.json"))) {
        activities.models = start -> {
          if (start.model().id().equals("gpu-model")) {
            throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure("no container engine", ErrorCode.MODEL_UNAVAILABLE.name());
          }
          return new ModelEndpoint(start.model().id(), "c1", "http://127.0.0.1:9/cpu", false, 1);
        };
        stub(client, "gen-recorded-model-fallback").run(
            new GenerationRequest("containerised", "high", Map.of(), "p1", "n1", "recorded"));
        save(client, "gen-recorded-model-fallback", "generation-model-fallback-on-host-v4.json");
      }
      // v4: a generation that waited in line (place by signal, lease by signal)
      if (!Files.exists(HISTORIES.resolve("generation-waited-in-line-v4.json"))) {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch holdingRuns = new java.util.concurrent.CountDownLatch(1);
        activities.backend = job -> {
          if (job.generationId().equals("gen-recorded-holding")) {
            holdingRuns.countDown();
            try {
              release.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
        };
        GenerationWorkflow holding = stub(client, "gen-recorded-holding");
        WorkflowClient.start(holding::run, request());
        assertThat(holdingRuns.await(10, TimeUnit.SECONDS)).isTrue();
        GenerationWorkflow waiting = stub(client, "gen-recorded-waiting");
        WorkflowClient.start(waiting::run, request());
        long deadline = System.currentTimeMillis() + 10_000;
        while (waiting.state().queuePosition() == null && System.currentTimeMillis() < deadline) {
          Thread.sleep(20);
        }
        assertThat(waiting.state().queuePosition()).isEqualTo(1);
        release.countDown();
        client.newUntypedWorkflowStub("gen-recorded-waiting").getResult(20, TimeUnit.SECONDS, GenerationResult.class);
        save(client, "gen-recorded-waiting", "generation-waited-in-line-v4.json");
      }
      activities.models = start -> new ModelEndpoint(start.model().id(), "c", "http://127.0.0.1:9/", false, 1);

      if (!Files.exists(HISTORIES.resolve("generation-succeeded-v1.json"))) {
        stub(client, "gen-recorded-succeeded").run(request());
        save(client, "gen-recorded-succeeded", "generation-succeeded-v1.json");
      }

      // v2 (tier-fallback-on-oom): high runs out of GPU memory, standard succeeds
      activities.backend = job -> {
        if (job.plan().tierUsed().equals("high")) {
          throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure("Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
        }
        return new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "a.png", "", "output", null)), true);
      };
      if (!Files.exists(HISTORIES.resolve("generation-oom-fallback-v2.json"))) {
        stub(client, "gen-recorded-fallback").run(request());
        save(client, "gen-recorded-fallback", "generation-oom-fallback-v2.json");
      }

      // v3 (partial-outputs-on-failure): the run fails after producing a file, which is kept
      activities.backend = job -> {
        throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure("Node 4 failed", ErrorCode.EXECUTION_ERROR.name(),
            new PartialFiles(List.of(new BackendFile("2", "images", "partial_ok_00001_.png", "", "output", null))));
      };
      if (!Files.exists(HISTORIES.resolve("generation-partial-outputs-v3.json"))) {
        stub(client, "gen-recorded-partial").run(request());
        save(client, "gen-recorded-partial", "generation-partial-outputs-v3.json");
      }
      if (Files.exists(HISTORIES.resolve("generation-failed-v1.json"))) {
        return; // the v1 histories are kept as recorded by the v1 code
      }

      activities.backend = job -> {
        throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure("Node 3 failed", ErrorCode.EXECUTION_ERROR.name());
      };
      stub(client, "gen-recorded-failed").run(request());
      save(client, "gen-recorded-failed", "generation-failed-v1.json");

      activities.backend = job -> {
        FakeGenerationActivities.sleep(30_000);
        return new BackendOutcome(job.runId(), false, List.of(), true);
      };
      GenerationWorkflow cancelled = stub(client, "gen-recorded-cancelled");
      WorkflowClient.start(cancelled::run, request());
      assertThat(activities.running.await(10, TimeUnit.SECONDS)).isTrue();
      Thread.sleep(500);
      cancelled.cancel("recorded cancel");
      client.newUntypedWorkflowStub("gen-recorded-cancelled").getResult(20, TimeUnit.SECONDS, GenerationResult.class);
      save(client, "gen-recorded-cancelled", "generation-cancelled-v1.json");
    }
  }

  private static GenerationWorkflow stub(WorkflowClient client, String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId(id).build());
  }

  private static GenerationRequest request() {
    return new GenerationRequest("invert", "high", Map.of("image", "uploads/a.png"), "p1", "n1", "recorded");
  }

  private static void save(WorkflowClient client, String id, String file) throws IOException {
    Files.createDirectories(HISTORIES);
    Files.writeString(HISTORIES.resolve(file), client.fetchHistory(id).toJson(true));
  }
}
