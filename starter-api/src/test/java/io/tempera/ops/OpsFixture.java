package io.tempera.ops;

import io.tempera.api.GenerationService;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.CollectRequest;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.generation.OutputActivities;
import io.tempera.generation.OutputRef;
import io.tempera.generation.PlanningActivities;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotActivities;
import io.tempera.slots.SlotAllocatorActivities;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.slots.SlotAllocatorWorkflowImpl;
import io.tempera.slots.WaitingPlace;
import io.tempera.template.QualityTier;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.client.BatchRequest;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestEnvironmentOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A slot pool of one host ({@code h1}, two slots) and the generation workflow on the in-process
 * test server (on real time), with scripted activities, for the operator command line's tests.
 */
final class OpsFixture implements AutoCloseable {

  static final String POOL = "default";
  static final String HOST = "h1";

  final TestWorkflowEnvironment env;
  final WorkflowClient client;

  /** What the backend does with a run; by default it succeeds with one image. */
  volatile Function<BackendJob, BackendOutcome> backend = OpsFixture::succeeds;

  /** Opened to let held runs end (see {@link #holdRuns}). */
  final CountDownLatch release = new CountDownLatch(1);

  OpsFixture() {
    env =
        TestWorkflowEnvironment.newInstance(
            TestEnvironmentOptions.newBuilder().setUseTimeskipping(false).build());
    client = env.getWorkflowClient();
    Activities activities = new Activities();
    for (QualityTier tier : QualityTier.values()) {
      Worker worker = env.newWorker(GenerationWorkflow.taskQueueFor(tier.id()));
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      worker.registerActivitiesImplementations(activities);
    }
    env.newWorker(HostRegistration.taskQueueFor(HOST))
        .registerActivitiesImplementations(activities);
    Worker slots = env.newWorker(SlotAllocatorWorkflow.TASK_QUEUE);
    slots.registerWorkflowImplementationTypes(SlotAllocatorWorkflowImpl.class);
    slots.registerActivitiesImplementations(new AllocatorActivities());
    GenerationSearchAttributes.ALL.forEach(key ->
        env.registerSearchAttribute(key.getName(), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
    env.start();
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(
            SlotAllocatorWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(SlotAllocatorWorkflow.TASK_QUEUE)
                .setWorkflowId(SlotAllocatorWorkflow.idFor(POOL))
                .build());
    BatchRequest start = client.newSignalWithStartRequest();
    start.add(allocator::run, AllocatorState.empty(POOL, AllocatorSettings.withoutHostLiveness()));
    start.add(
        allocator::registerHost, HostRegistration.of(HOST, List.of(new Gpu(0, 24_000)), 2, 0));
    client.signalWithStart(start);
  }

  /** Runs hold until {@link #release} opens. */
  void holdRuns() {
    backend =
        job -> {
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return succeeds(job);
        };
  }

  static BackendOutcome succeeds(BackendJob job) {
    return new BackendOutcome(
        job.runId(),
        false,
        List.of(new BackendFile("9", "images", "a.png", "", "output", null)),
        true);
  }

  /** Starts a generation as the API does (search attributes on). */
  String start(String requestId, String function, String tier, String project) {
    GenerationRequest request =
        new GenerationRequest(
            function,
            tier,
            Map.of("image", "uploads/a.png", "strength", 0.5),
            project,
            "n1",
            requestId);
    String id = GenerationWorkflow.workflowIdFor(project, requestId);
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class, GenerationService.startOptions(request, id, true));
    WorkflowClient.start(workflow::run, request);
    return id;
  }

  AllocatorState pool() {
    return client
        .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(POOL))
        .state();
  }

  /** What a command printed, and its exit code. */
  record Ran(int exit, String out, String err) {}

  Ran ops(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        OpsCommand.run(
            List.of(args),
            client,
            Map.of(),
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Ran(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    release.countDown();
    env.close();
  }

  /** A generation's steps, scripted. */
  private final class Activities
      implements PlanningActivities, SlotActivities, BackendActivities, OutputActivities {

    @Override
    public GenerationPlan plan(GenerationRequest request) {
      return plan(request, QualityTier.resolve(request.tier()).tier().id());
    }

    private GenerationPlan plan(GenerationRequest request, String tier) {
      return new GenerationPlan(
          request.functionId(),
          "1.0.0",
          request.tier(),
          tier,
          "comfyui",
          new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode(),
          List.of(),
          60,
          List.of(),
          null,
          null,
          null,
          null,
          0);
    }

    @Override
    public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
      return plan(request, tier);
    }

    @Override
    public GenerationPlan planOnModel(
        GenerationRequest request, GenerationPlan plan, String modelId) {
      return plan;
    }

    @Override
    public LeaseAnswer requestLease(LeaseRequest request) {
      return client
          .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(POOL))
          .requestLease(request);
    }

    @Override
    public BackendOutcome runOnBackend(BackendJob job) {
      return backend.apply(job);
    }

    @Override
    public void cancelOnBackend(BackendJob job) {}

    @Override
    public List<OutputRef> collectOutputs(CollectRequest request) {
      return request.files().stream()
          .map(f ->
              new OutputRef(
                  request.generationId() + "_" + f.filename(),
                  request.projectId() + "/outputs/renders/" + request.nodeId() + "/" + f.filename(),
                  "image/png",
                  68,
                  8,
                  8))
          .toList();
    }
  }

  /** The allocator's own activities: every holder is alive, places and moves go nowhere. */
  private static final class AllocatorActivities implements SlotAllocatorActivities {
    @Override
    public List<String> closedHolders(List<String> holders) {
      return List.of();
    }

    @Override
    public void publishPlaces(List<WaitingPlace> places) {}

    @Override
    public void publishMoves(List<Lease> revoked, String reason) {}
  }
}
