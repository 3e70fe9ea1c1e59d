package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;

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
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionDescription;
import io.temporal.client.WorkflowOptions;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an operator reads in the Temporal UI: a generation's summary and details, its activities'
 * summaries on the timeline, its current details, and TemperaTier naming the tier it ran at.
 */
class OperatorMetadataTest {

  private TestWorkflowEnvironment env;
  private WorkflowClient client;
  private FakeGenerationActivities activities;

  @BeforeEach
  void setUp() {
    env = TestWorkflowEnvironment.newInstance();
    client = env.getWorkflowClient();
    activities = new FakeGenerationActivities();
    activities.allocator = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    worker.registerActivitiesImplementations(activities);
    String hostQueue = HostRegistration.taskQueueFor("h1");
    env.newWorker(hostQueue).registerActivitiesImplementations(activities);
    GenerationActivitySet.registerAllocator(
        env.getWorkerFactory(), client, new io.tempera.progress.InProcessProgressBus());
    env.start();
    activities.host = new HostRegistration("h1", hostQueue, List.of(new Gpu(0, 24_000)), 1);
    activities.allocator.registerHost(activities.pool, activities.host);
    GenerationSearchAttributes.ALL.forEach(key ->
        env.registerSearchAttribute(key.getName(), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
  }

  @AfterEach
  void tearDown() {
    env.close();
  }

  /** Ultra and high run out of GPU memory; standard succeeds. */
  private GenerationResult runStepsDown(String id, GenerationRequest request) {
    activities.backend =
        job -> {
          if (!job.plan().tierUsed().equals("standard")) {
            throw ApplicationFailure.newNonRetryableFailure(
                "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
          }
          return new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "a.png", "", "output", null)),
              true);
        };
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                .setWorkflowId(id)
                .setTypedSearchAttributes(GenerationSearchAttributes.of(request))
                .setStaticSummary(GenerationSummaries.of(request))
                .setStaticDetails(GenerationSummaries.details(request))
                .build());
    return TestHost.runToEnd(workflow, request);
  }

  private static GenerationRequest request(String tier) {
    return new GenerationRequest(
        "invert", tier, Map.of("image", "uploads/a.png"), "demo", "n1", "r1");
  }

  @Test
  void temperaTierStartsResolvedAndFollowsTheStepDownToTheTierUsed() {
    assertThat(
            GenerationSearchAttributes.of(request("premium")).get(GenerationSearchAttributes.TIER))
        .isEqualTo("ultra");
    assertThat(GenerationSearchAttributes.of(request(null)).get(GenerationSearchAttributes.TIER))
        .isEqualTo("standard");
    assertThat(
            GenerationSearchAttributes.of(request(" High ")).get(GenerationSearchAttributes.TIER))
        .isEqualTo("high");

    GenerationResult result = runStepsDown("gen-steps-down", request("ultra"));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.tierUsed()).isEqualTo("standard");
    var attributes = client.newUntypedWorkflowStub("gen-steps-down").describe();
    assertThat(attributes.getTypedSearchAttributes().get(GenerationSearchAttributes.TIER))
        .isEqualTo("standard");
    assertThat(attributes.getTypedSearchAttributes().get(GenerationSearchAttributes.STATUS))
        .isEqualTo("SUCCEEDED");
  }

  @Test
  void theWorkflowAndItsActivitiesCarrySummariesForTheTemporalUi() {
    runStepsDown("gen-summarised", request("ultra"));

    WorkflowExecutionDescription described =
        client.newUntypedWorkflowStub("gen-summarised").describe();
    assertThat(described.getStaticSummary()).isEqualTo("invert · Ultra · project demo");
    assertThat(described.getStaticDetails())
        .contains("**Function** invert (newest version)")
        .contains("**Tier** ultra")
        .contains("**Project** demo, node n1")
        .contains("**Request** r1")
        .contains("**Parameters** image");

    List<String> timeline =
        client.fetchHistory("gen-summarised").getEvents().stream()
            .filter(HistoryEvent::hasActivityTaskScheduledEventAttributes)
            .map(e ->
                DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
                    e.getUserMetadata().getSummary(), String.class, String.class))
            .toList();
    assertThat(timeline)
        .containsExactly(
            "Lease a slot (Ultra)",
            "Run invert (Ultra) on comfyui on h1, GPU 0",
            "Run invert (High) on comfyui on h1, GPU 0",
            "Run invert (Standard) on comfyui on h1, GPU 0",
            "Collect 1 output on h1");

    io.temporal.api.sdk.v1.WorkflowMetadata metadata =
        client
            .newUntypedWorkflowStub("gen-summarised")
            .query("__temporal_workflow_metadata", io.temporal.api.sdk.v1.WorkflowMetadata.class);
    assertThat(metadata.getCurrentDetails()).isEqualTo("Done · Standard (asked ultra)");
  }
}
