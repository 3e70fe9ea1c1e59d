package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.TestHost;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationSummaries;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.generation.ModelEndpoint;
import io.tempera.generation.OutputValue;
import io.tempera.generation.PartialFiles;
import io.tempera.generation.PhaseTimeouts;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostDrain;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.slots.SlotAllocatorWorkflowImpl;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveryState;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookDeliveryWorkflowImpl;
import io.tempera.webhooks.WebhookRetry;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.common.WorkflowExecutionHistory;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.testing.WorkflowReplayer;
import io.temporal.worker.Worker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Replays the histories recorded with release 0.1.0 against today's code: a change to a workflow
 * that would break a running generation (or the running slot allocator) fails here. A behaviour
 * change goes behind {@code Workflow.getVersion} so that these still replay. Record missing ones
 * with {@code ./mvnw -pl activities -am test -Dtest=GenerationReplayTest
 * -Dtempera.record-histories=true -Dsurefire.failIfNoSpecifiedTests=false}; a recorded file is
 * never rewritten.
 */
class GenerationReplayTest {

  static final Path HISTORIES = Path.of("src/test/resources/histories");

  @ParameterizedTest
  @ValueSource(
      strings = {
        "generation-succeeded-0.1.0.json",
        "generation-failed-0.1.0.json",
        "generation-cancelled-0.1.0.json",
        "generation-oom-fallback-0.1.0.json",
        "generation-partial-outputs-0.1.0.json",
        "generation-model-fallback-0.1.0.json",
        "generation-waited-in-line-0.1.0.json",
        "generation-stalled-run-again-0.1.0.json",
        "generation-values-only.json", // behind getVersion "succeeds-with-values-only"
        "generation-tier-used.json", // behind "tier-attribute-follows-plan"; user metadata
        "generation-webhook.json" // behind "delivers-webhook": its delivery started as a child
      })
  void recordedGenerationsStillReplay(String file) throws Exception {
    WorkflowExecutionHistory history = history(file);
    if (file.equals("generation-webhook.json")) {
      // its child's id is derived from the generation's: replayed under the recorded id
      history =
          WorkflowExecutionHistory.fromJson(
              Files.readString(HISTORIES.resolve(file)), "gen-recorded-webhook");
    }
    assertThat(history.getEvents()).hasSizeGreaterThan(10);
    WorkflowReplayer.replayWorkflowExecution(history, GenerationWorkflowImpl.class);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "slot-allocator-0.1.0.json",
        "slot-allocator-places-by-bus.json",
        "slot-allocator-host-lost.json", // host liveness: a host lost, its lease revoked, back
        "slot-allocator-answers-by-loop.json",
        "slot-allocator-drain.json", // behind "host-drain": a host drained, a waiter, undrained
        // behind "tier-placement": hosts of their tiers, a high line that holds up no draft one
        "slot-allocator-tier-placement.json",
        // behind "priority-fair-share": a line served in priority order (PriorityFairShareTest)
        "slot-allocator-priorities.json",
        "slot-allocator-gpu-time.json", // behind "gpu-time": leases' time counted per project
        // behind "queue-eta": places published with their waits, a newcomer's too (DeepQueueTest)
        "slot-allocator-queue-eta.json",
        "slot-allocator-hand-over.json", // behind "hand-over": refused requests, no grant, then CAN
        "slot-allocator-fair-ties.json" // behind "fair-ties" and "grant-pace": an odd pool of 3
      })
  void theRecordedSlotAllocatorStillReplays(String file) throws Exception {
    WorkflowExecutionHistory history = history(file);
    assertThat(history.getEvents()).hasSizeGreaterThan(20);
    WorkflowReplayer.replayWorkflowExecution(history, SlotAllocatorWorkflowImpl.class);
  }

  /** The recorded webhook delivery (the receiver failed twice, then took the event) replays. */
  @Test
  void theRecordedWebhookDeliveryStillReplays() throws Exception {
    WorkflowExecutionHistory history = history("webhook-delivery-retried.json");
    assertThat(history.getEvents()).hasSizeGreaterThan(10);
    WorkflowReplayer.replayWorkflowExecution(history, WebhookDeliveryWorkflowImpl.class);
  }

  /**
   * The results 0.1.0 recorded (a success's result, a failure's second detail) still read as
   * today's {@link GenerationResult}: fields added since, such as {@code values}, come out empty.
   */
  @Test
  void resultsRecordedWith010StillRead() throws Exception {
    io.temporal.common.converter.DataConverter converter =
        io.temporal.common.converter.GlobalDataConverter.get();
    io.temporal.api.common.v1.Payloads completed =
        history("generation-succeeded-0.1.0.json").getEvents().stream()
            .filter(e -> e.hasWorkflowExecutionCompletedEventAttributes())
            .findFirst()
            .orElseThrow()
            .getWorkflowExecutionCompletedEventAttributes()
            .getResult();
    GenerationResult succeeded =
        converter.fromPayload(
            completed.getPayloads(0), GenerationResult.class, GenerationResult.class);
    assertThat(succeeded.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(succeeded.outputs()).isNotEmpty();
    assertThat(succeeded.values()).isEmpty();
    assertThat(succeeded.asState().values()).isEmpty();

    io.temporal.api.common.v1.Payloads details =
        history("generation-failed-0.1.0.json").getEvents().stream()
            .filter(e -> e.hasWorkflowExecutionFailedEventAttributes())
            .findFirst()
            .orElseThrow()
            .getWorkflowExecutionFailedEventAttributes()
            .getFailure()
            .getApplicationFailureInfo()
            .getDetails();
    GenerationResult failed =
        converter.fromPayload(
            details.getPayloads(1), GenerationResult.class, GenerationResult.class);
    assertThat(failed.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(failed.error()).isNotNull();
    assertThat(failed.values()).isEmpty();
  }

  private static WorkflowExecutionHistory history(String file) throws IOException {
    Path path = HISTORIES.resolve(file);
    assertThat(path).exists();
    return WorkflowExecutionHistory.fromJson(Files.readString(path));
  }

  @Test
  @EnabledIfSystemProperty(named = "tempera.record-histories", matches = "true")
  void recordHistories() throws Exception {
    try (TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance()) {
      WorkflowClient client = env.getWorkflowClient();
      FakeGenerationActivities activities = new FakeGenerationActivities();
      activities.allocator =
          new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
      Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      worker.registerActivitiesImplementations(activities);
      String hostQueue = HostRegistration.taskQueueFor("h1");
      env.newWorker(hostQueue).registerActivitiesImplementations(activities);
      ScriptedWebhooks receiver = new ScriptedWebhooks();
      Worker webhooks = env.newWorker(WebhookDeliveryWorkflow.TASK_QUEUE);
      webhooks.registerWorkflowImplementationTypes(WebhookDeliveryWorkflowImpl.class);
      webhooks.registerActivitiesImplementations(receiver);
      GenerationActivitySet.registerAllocator(
          env.getWorkerFactory(), client, new io.tempera.progress.InProcessProgressBus());
      env.start();
      activities.host = new HostRegistration("h1", hostQueue, List.of(new Gpu(0, 24_000)), 1);
      activities.allocator.registerHost(activities.pool, activities.host);
      BackendOutcome ok =
          new BackendOutcome(
              "r",
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);

      record(
          client, "generation-succeeded-0.1.0.json", "gen-recorded-succeeded", request("invert"));

      activities.backend =
          job -> {
            throw ApplicationFailure.newNonRetryableFailure(
                "Node 3 failed", ErrorCode.EXECUTION_ERROR.name());
          };
      record(client, "generation-failed-0.1.0.json", "gen-recorded-failed", request("invert"));

      // high runs out of GPU memory, standard succeeds
      activities.backend =
          job -> {
            if (job.plan().tierUsed().equals("high")) {
              throw ApplicationFailure.newNonRetryableFailure(
                  "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
            }
            return ok;
          };
      record(client, "generation-oom-fallback-0.1.0.json", "gen-recorded-oom", request("invert"));

      // the run fails after producing a file, which is kept
      activities.backend =
          job -> {
            throw ApplicationFailure.newNonRetryableFailure(
                "Node 4 failed",
                ErrorCode.EXECUTION_ERROR.name(),
                new PartialFiles(
                    List.of(
                        new BackendFile("2", "images", "partial_00001_.png", "", "output", null))));
          };
      record(
          client,
          "generation-partial-outputs-0.1.0.json",
          "gen-recorded-partial",
          request("invert"));

      // the first run stalls, runs again under a new run id and succeeds, within the template's
      // timeouts
      AtomicInteger runs = new AtomicInteger();
      activities.timeouts = new PhaseTimeouts(600, null, 60, 30, 20);
      activities.backend =
          job -> {
            if (runs.incrementAndGet() == 1) {
              throw ApplicationFailure.newNonRetryableFailure(
                  "The generator made no progress for 30 s; the run was stopped",
                  ErrorCode.STALLED.name());
            }
            return ok;
          };
      record(
          client,
          "generation-stalled-run-again-0.1.0.json",
          "gen-recorded-stalled",
          request("invert"));
      activities.timeouts = null;

      // the model fails to load, its fallback runs, every later step on the host's queue
      activities.backend = job -> ok;
      activities.models =
          start -> {
            if (start.model().id().equals("gpu-model")) {
              throw ApplicationFailure.newNonRetryableFailure(
                  "no container engine", ErrorCode.MODEL_UNAVAILABLE.name());
            }
            return new ModelEndpoint(start.model().id(), "c1", "http://127.0.0.1:9/cpu", false, 1);
          };
      record(
          client,
          "generation-model-fallback-0.1.0.json",
          "gen-recorded-model-fallback",
          request("containerised"));

      // a generation that waited in line (place by signal, lease by signal)
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch holdingRuns = new CountDownLatch(1);
      activities.backend =
          job -> {
            if (job.generationId().equals("gen-recorded-holding")) {
              holdingRuns.countDown();
              try {
                release.await(20, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            return ok;
          };
      GenerationWorkflow holding = stub(client, "gen-recorded-holding");
      WorkflowClient.start(holding::run, request("invert"));
      assertThat(holdingRuns.await(10, TimeUnit.SECONDS)).isTrue();
      GenerationWorkflow waiting = stub(client, "gen-recorded-waiting");
      WorkflowClient.start(waiting::run, request("invert"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> Integer.valueOf(1).equals(waiting.state().queuePosition()));
      release.countDown();
      TestHost.endOf(client, "gen-recorded-waiting");
      save(client, "gen-recorded-waiting", "generation-waited-in-line-0.1.0.json");

      // cancelled while running (the backend run is stopped, the lease released)
      CountDownLatch cancelledRuns = new CountDownLatch(1);
      activities.backend =
          job -> {
            cancelledRuns.countDown();
            FakeGenerationActivities.sleep(30_000);
            return ok;
          };
      GenerationWorkflow cancelled = stub(client, "gen-recorded-cancelled");
      WorkflowClient.start(cancelled::run, request("invert"));
      assertThat(cancelledRuns.await(10, TimeUnit.SECONDS)).isTrue();
      WorkflowStub.fromTyped(cancelled).cancel("recorded cancel");
      TestHost.endOf(client, "gen-recorded-cancelled");
      save(client, "gen-recorded-cancelled", "generation-cancelled-0.1.0.json");

      // after 0.1.0, behind getVersion "succeeds-with-values-only": a run that returned values
      // (text, a number) and no file succeeds with them, nothing collected
      activities.backend =
          job ->
              new BackendOutcome(job.runId(), false, List.of(), true)
                  .with(
                      List.of(
                          new OutputValue(
                              "caption",
                              "text",
                              com.fasterxml.jackson.databind.node.TextNode.valueOf("a red square")),
                          new OutputValue(
                              "words",
                              "number",
                              com.fasterxml.jackson.databind.node.IntNode.valueOf(3))),
                      List.of("The prompt was shortened"));
      record(client, "generation-values-only.json", "gen-recorded-values", request("invert"));

      // the allocator that served all of them (still running: its history so far)
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> activities.allocator.state(activities.pool).leases().isEmpty());
      save(client, SlotAllocatorWorkflow.idFor(activities.pool), "slot-allocator-0.1.0.json");
      // after 0.1.0, behind getVersion "places-by-progress-bus": places published, not signalled
      save(
          client,
          SlotAllocatorWorkflow.idFor(activities.pool),
          "slot-allocator-places-by-bus.json");
      // behind getVersion "answers-by-main-loop": lease requests answered by the main loop, one
      // wake-up timer, signals not waited for
      save(
          client,
          SlotAllocatorWorkflow.idFor(activities.pool),
          "slot-allocator-answers-by-loop.json");

      // behind getVersion "tier-attribute-follows-plan": started with the search attributes, high
      // runs out of GPU memory and TemperaTier follows the step down to standard; the workflow
      // and its activities carry their summaries (user metadata, which a replay does not compare)
      GenerationSearchAttributes.ALL.forEach(key ->
          env.registerSearchAttribute(
              key.getName(), io.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
      activities.backend =
          job -> {
            if (job.plan().tierUsed().equals("high")) {
              throw ApplicationFailure.newNonRetryableFailure(
                  "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
            }
            return ok;
          };
      GenerationRequest searchable = request("invert");
      GenerationWorkflow tierUsed =
          client.newWorkflowStub(
              GenerationWorkflow.class,
              WorkflowOptions.newBuilder()
                  .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                  .setWorkflowId("gen-recorded-tier-used")
                  .setTypedSearchAttributes(GenerationSearchAttributes.of(searchable))
                  .setStaticSummary(GenerationSummaries.of(searchable))
                  .setStaticDetails(GenerationSummaries.details(searchable))
                  .build());
      TestHost.runToEnd(tierUsed, searchable);
      save(client, "gen-recorded-tier-used", "generation-tier-used.json");

      // behind getVersion "host-drain": h1 drained, a generation waits in line, h1 put back, the
      // generation gets its lease and succeeds
      activities.backend = job -> ok;
      SlotAllocatorWorkflow allocator =
          client.newWorkflowStub(
              SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(activities.pool));
      allocator.drain(HostDrain.drain("h1", "recorded"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> activities.allocator.state(activities.pool).drainedHosts().contains("h1"));
      GenerationWorkflow drained = stub(client, "gen-recorded-drained");
      WorkflowClient.start(drained::run, request("invert"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> Integer.valueOf(1).equals(drained.state().queuePosition()));
      allocator.drain(HostDrain.undrain("h1", "recorded"));
      TestHost.endOf(client, "gen-recorded-drained");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> activities.allocator.state(activities.pool).leases().isEmpty());
      save(client, SlotAllocatorWorkflow.idFor(activities.pool), "slot-allocator-drain.json");
      // behind getVersion "gpu-time": the same run counts each project's GPU time per hour (no
      // command changes: the marker only); the usage query shows it
      assertThat(
              allocator.usage(List.of()).projects().stream()
                  .mapToLong(io.tempera.slots.PoolUsage.Project::gpuMillis)
                  .sum())
          .isPositive();
      save(client, SlotAllocatorWorkflow.idFor(activities.pool), "slot-allocator-gpu-time.json");

      // behind getVersion "delivers-webhook": a generation naming a webhook starts its delivery as
      // an abandoned child once it ended; the receiver fails twice (500), then takes the event
      receiver.statusOf = number -> number <= 2 ? 500 : 200;
      GenerationRequest hooked =
          request("invert")
              .withWebhook(new Webhook("https://hooks.example.com/tempera", WebhookRetry.DEFAULT));
      record(client, "generation-webhook.json", "gen-recorded-webhook", hooked);
      String delivery = WebhookDeliveryWorkflow.idFor("gen-recorded-webhook");
      assertThat(
              client
                  .newUntypedWorkflowStub(delivery)
                  .getResult(WebhookDeliveryState.class)
                  .attempts())
          .hasSize(3);
      save(client, delivery, "webhook-delivery-retried.json");
    }
  }

  private static void record(
      WorkflowClient client, String file, String id, GenerationRequest request) throws IOException {
    TestHost.runToEnd(stub(client, id), request);
    save(client, id, file);
  }

  private static GenerationWorkflow stub(WorkflowClient client, String id) {
    return client.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder()
            .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
            .setWorkflowId(id)
            .build());
  }

  private static GenerationRequest request(String function) {
    return new GenerationRequest(
        function, "high", Map.of("image", "uploads/a.png"), "p1", "n1", "recorded");
  }

  private static void save(WorkflowClient client, String id, String file) throws IOException {
    Path path = HISTORIES.resolve(file);
    if (Files.exists(path)) {
      return;
    }
    Files.createDirectories(HISTORIES);
    Files.writeString(path, client.fetchHistory(id).toJson(true));
  }
}
