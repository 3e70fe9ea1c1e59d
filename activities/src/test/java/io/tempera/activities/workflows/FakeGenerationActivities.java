package io.tempera.activities.workflows;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.CollectRequest;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.ModelActivities;
import io.tempera.generation.ModelEndpoint;
import io.tempera.generation.ModelStart;
import io.tempera.generation.OutputActivities;
import io.tempera.generation.OutputRef;
import io.tempera.generation.PhaseTimeouts;
import io.tempera.generation.PlanningActivities;
import io.tempera.models.ModelSpec;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotActivities;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** Activities that record what the workflow asked for and answer as each test scripts them. */
class FakeGenerationActivities
    implements PlanningActivities,
        SlotActivities,
        ModelActivities,
        BackendActivities,
        OutputActivities {

  final List<String> calls = new CopyOnWriteArrayList<>();
  final List<String> runIds = new CopyOnWriteArrayList<>();
  final List<String> cancelledRuns = new CopyOnWriteArrayList<>();
  final CountDownLatch running = new CountDownLatch(1);
  volatile Function<BackendJob, BackendOutcome> backend =
      job ->
          new BackendOutcome(
              job.runId(),
              false,
              List.of(new BackendFile("4", "images", "out_00001_.png", "", "output", null)),
              true);

  /** activity@taskQueue of every call, to see where each step ran. */
  final List<String> queues = new CopyOnWriteArrayList<>();

  final List<String> modelsReleased = new CopyOnWriteArrayList<>();
  final List<BackendJob> jobs = new CopyOnWriteArrayList<>();

  /** The real allocator client of the test environment. */
  volatile SlotAllocatorClient allocator;

  volatile String pool = "test";

  /** The test host's registration: registered again when the allocator has stopped, as hosts do. */
  volatile io.tempera.slots.HostRegistration host;

  /** The phase timeouts the plan carries, as a template would set them (null: none). */
  volatile PhaseTimeouts timeouts;

  volatile long collectDelayMillis;
  volatile Function<ModelStart, ModelEndpoint> models =
      start ->
          new ModelEndpoint(
              start.model().id(),
              "c-" + start.model().id(),
              "http://127.0.0.1:9/" + start.model().id(),
              false,
              5);

  /** A containerised model for the function "containerised", with a CPU fallback. */
  static final ModelSpec GPU_MODEL =
      new ModelSpec(
          "gpu-model",
          "comfyui",
          "tempera/gpu-model:1",
          List.of(),
          Map.of(),
          8188,
          "/system_stats",
          6_000,
          60,
          "cpu-model");

  static final ModelSpec CPU_MODEL =
      new ModelSpec(
          "cpu-model",
          "comfyui",
          "tempera/cpu-model:1",
          List.of(),
          Map.of(),
          8188,
          "/system_stats",
          0,
          60,
          null);

  private void where(String step) {
    queues.add(step + "@" + Activity.getExecutionContext().getInfo().getActivityTaskQueue());
  }

  private static int vram(String functionId, String tier, ModelSpec model) {
    if (model != null) {
      return model.vramMb();
    }
    return "huge".equals(functionId) && "ultra".equals(tier) ? 100_000 : 0;
  }

  private GenerationPlan plan(GenerationRequest request, String tier, ModelSpec model) {
    return new GenerationPlan(
        request.functionId(),
        "1.0.0",
        request.tier(),
        tier,
        "comfyui",
        new ObjectMapper().createObjectNode(),
        List.of(),
        60,
        List.of(),
        null,
        null,
        model,
        timeouts,
        vram(request.functionId(), tier, model));
  }

  @Override
  public GenerationPlan plan(GenerationRequest request) {
    calls.add("resolve");
    where("resolve");
    if (request.functionId().equals("missing")) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Unknown function 'missing'", ErrorCode.UNKNOWN_FUNCTION.name());
    }
    return plan(
        request,
        request.tier() == null ? "standard" : request.tier(),
        request.functionId().equals("containerised") ? GPU_MODEL : null);
  }

  @Override
  public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
    calls.add("plan:" + tier);
    return plan(request, tier, plan.model());
  }

  @Override
  public GenerationPlan planOnModel(
      GenerationRequest request, GenerationPlan plan, String modelId) {
    calls.add("planOnModel:" + modelId);
    return plan(request, plan.tierUsed(), modelId.equals(CPU_MODEL.id()) ? CPU_MODEL : null);
  }

  @Override
  public LeaseAnswer requestLease(LeaseRequest request) {
    calls.add("lease");
    where("lease");
    // the real lease request: it registers the host again when the allocator has stopped (the
    // time-skipping test server can jump an idle allocator to its run timeout)
    return new io.tempera.activities.slots.SlotActivitiesImpl(
            allocator,
            pool,
            host,
            0,
            new io.tempera.activities.PhaseEvents(new io.tempera.progress.InProcessProgressBus()))
        .requestLease(request);
  }

  @Override
  public ModelEndpoint startModel(ModelStart start) {
    calls.add("start:" + start.model().id());
    where("start");
    return models.apply(start);
  }

  @Override
  public void releaseModel(ModelStart start) {
    calls.add("releaseModel:" + start.model().id());
    where("releaseModel");
    modelsReleased.add(start.model().id());
  }

  @Override
  public BackendOutcome runOnBackend(BackendJob job) {
    calls.add("run");
    where("run");
    jobs.add(job);
    runIds.add(job.runId());
    running.countDown();
    return backend.apply(job);
  }

  @Override
  public void cancelOnBackend(BackendJob job) {
    calls.add("cancel");
    where("cancel");
    cancelledRuns.add(job.runId());
  }

  @Override
  public List<OutputRef> collectOutputs(CollectRequest request) {
    calls.add("collect");
    where("collect");
    if (collectDelayMillis > 0) {
      sleep(collectDelayMillis);
    }
    return request.files().stream()
        .map(f ->
            new OutputRef(
                request.generationId() + "_" + f.filename(),
                request.projectId() + "/outputs/renders/" + request.nodeId() + "/" + f.filename(),
                "image/png",
                10,
                8,
                8))
        .toList();
  }

  static void sleep(long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
