package io.tempera.activities.workflows;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.GenerationEndsInterceptor;
import io.tempera.activities.TestHost;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.observability.GenerationLogContext;
import io.tempera.observability.GenerationMeters;
import io.tempera.observability.GenerationMetricsInterceptor;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.client.WorkflowOptions;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import io.temporal.worker.WorkerFactoryOptions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The worker's generation meters and log context, recorded by its interceptor and the context
 * propagator around the real workflow (scripted activities, in-process test server).
 */
class GenerationMetricsInterceptorTest {

  static final String HOST_QUEUE = HostRegistration.taskQueueFor("h1");

  private final InProcessProgressBus bus = new InProcessProgressBus();
  private final MeterRegistry registry = new SimpleMeterRegistry();
  private TestWorkflowEnvironment env;
  private FakeGenerationActivities activities;
  private WorkflowClient client;

  @BeforeEach
  void setUp() {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder()
                .setWorkflowClientOptions(
                    WorkflowClientOptions.newBuilder()
                        .setContextPropagators(List.of(new GenerationLogContext()))
                        .build())
                .setWorkerFactoryOptions(
                    WorkerFactoryOptions.newBuilder()
                        .setWorkerInterceptors(
                            new GenerationEndsInterceptor(bus),
                            new GenerationMetricsInterceptor(registry))
                        .build())
                .build());
    client = env.getWorkflowClient();
    activities = new FakeGenerationActivities();
    activities.allocator = new SlotAllocatorClient(client, AllocatorSettings.withoutHostLiveness());
    Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
    worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
    worker.registerActivitiesImplementations(activities);
    env.newWorker(HOST_QUEUE).registerActivitiesImplementations(activities);
    GenerationActivitySet.registerAllocator(env.getWorkerFactory(), client, bus);
    env.start();
    activities.host = new HostRegistration("h1", HOST_QUEUE, List.of(new Gpu(0, 24_000)), 1);
    activities.allocator.registerHost(activities.pool, activities.host);
  }

  @AfterEach
  void tearDown() {
    MDC.clear();
    env.close();
  }

  private GenerationResult run(String id, GenerationRequest request) {
    // as the API's client interceptor does: the ids in the MDC while the generation starts
    MDC.put(GenerationLogContext.GENERATION_ID, id);
    MDC.put(GenerationLogContext.PROJECT_ID, request.projectId());
    MDC.put(GenerationLogContext.FUNCTION_ID, request.functionId());
    MDC.put(GenerationLogContext.TIER, request.tier());
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                .setWorkflowId(id)
                .build());
    try {
      return TestHost.runToEnd(workflow, request);
    } finally {
      MDC.clear();
    }
  }

  private double generations(String outcome, String error, String tier, String backend) {
    var counter =
        registry
            .find(GenerationMeters.GENERATIONS)
            .tag("function", "invert")
            .tag("tier", tier)
            .tag("backend", backend)
            .tag("outcome", outcome)
            .tag("error", error)
            .counter();
    return counter == null ? 0 : counter.count();
  }

  private long phaseCount(String phase) {
    var timer = registry.find(GenerationMeters.PHASE).tag("phase", phase).timer();
    return timer == null ? 0 : timer.count();
  }

  @Test
  void aSucceededGenerationIsCountedWithItsSlotWaitAndItsIdsReachTheActivities() {
    AtomicReference<Map<String, String>> mdcInRun = new AtomicReference<>();
    FakeGenerationActivities fake = activities;
    var backend = fake.backend;
    fake.backend =
        job -> {
          mdcInRun.set(MDC.getCopyOfContextMap());
          return backend.apply(job);
        };

    GenerationResult result =
        run(
            "gen-metrics-ok",
            new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(generations("succeeded", "none", "standard", "comfyui")).isEqualTo(1.0);
    assertThat(
            registry
                .get(GenerationMeters.DURATION)
                .tag("outcome", "succeeded")
                .tag("function", "invert")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(phaseCount(GenerationMeters.SLOT_WAIT)).isEqualTo(1);
    assertThat(registry.find(GenerationMeters.FALLBACKS).counters()).isEmpty();
    assertThat(mdcInRun.get())
        .containsEntry(GenerationLogContext.GENERATION_ID, "gen-metrics-ok")
        .containsEntry(GenerationLogContext.PROJECT_ID, "p1")
        .containsEntry(GenerationLogContext.FUNCTION_ID, "invert")
        .containsEntry(GenerationLogContext.TIER, "standard")
        // the Temporal SDK's own keys on the same lines
        .containsEntry("WorkflowId", "gen-metrics-ok")
        .containsKey("Attempt");
  }

  @Test
  void aFailureAfterATierFallbackIsCountedWithItsCodeItsFallbackAndTheFailedAttempts() {
    activities.backend =
        job -> {
          throw ApplicationFailure.newNonRetryableFailure(
              "Not enough GPU memory", ErrorCode.OUT_OF_GPU_MEMORY.name());
        };

    GenerationResult result =
        run(
            "gen-metrics-oom",
            new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(generations("failed", "OUT_OF_GPU_MEMORY", "draft", "comfyui")).isEqualTo(1.0);
    assertThat(
            registry
                .get(GenerationMeters.FALLBACKS)
                .tag("kind", "tier")
                .tag("from_tier", "standard")
                .tag("to_tier", "draft")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(
            registry
                .get(GenerationMeters.ACTIVITY_FAILURES)
                .tag("activity", "RunOnBackend")
                .tag("error", "OUT_OF_GPU_MEMORY")
                .counter()
                .count())
        .isEqualTo(2.0); // at standard, then at draft
  }

  @Test
  void aRetriedAttemptIsCountedAsARetry() {
    java.util.concurrent.atomic.AtomicInteger attempts =
        new java.util.concurrent.atomic.AtomicInteger();
    var backend = activities.backend;
    activities.backend =
        job -> {
          if (attempts.incrementAndGet() == 1) {
            throw ApplicationFailure.newFailure(
                "The generator hit a fault", ErrorCode.BACKEND_FAULT.name());
          }
          return backend.apply(job);
        };

    GenerationResult result =
        run(
            "gen-metrics-retry",
            new GenerationRequest("invert", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(
            registry
                .get(GenerationMeters.ACTIVITY_FAILURES)
                .tag("activity", "RunOnBackend")
                .tag("error", "BACKEND_FAULT")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(
            registry
                .get(GenerationMeters.ACTIVITY_RETRIES)
                .tag("activity", "RunOnBackend")
                .counter()
                .count())
        .isEqualTo(1.0);
  }

  @Test
  void anUnknownFunctionIsCountedFailedWithoutABackend() {
    GenerationResult result =
        run(
            "gen-metrics-unknown",
            new GenerationRequest("missing", "standard", Map.of(), "p1", "n1", null));

    assertThat(result.status()).isEqualTo(GenerationStatus.FAILED);
    assertThat(
            registry
                .get(GenerationMeters.GENERATIONS)
                .tag("function", "missing")
                .tag("outcome", "failed")
                .tag("error", "UNKNOWN_FUNCTION")
                .tag("backend", "none")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(phaseCount(GenerationMeters.SLOT_WAIT)).isZero();
  }
}
