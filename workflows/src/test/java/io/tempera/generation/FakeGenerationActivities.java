package io.tempera.generation;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.temporal.failure.ApplicationFailure;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** Activities that record what the workflow asked for and answer as each test scripts them. */
class FakeGenerationActivities implements GenerationActivities {

  final List<String> calls = new CopyOnWriteArrayList<>();
  final List<String> runIds = new CopyOnWriteArrayList<>();
  final List<String> released = new CopyOnWriteArrayList<>();
  final List<String> cancelledRuns = new CopyOnWriteArrayList<>();
  final CountDownLatch running = new CountDownLatch(1);
  volatile Function<BackendJob, BackendOutcome> backend =
      job -> new BackendOutcome(job.runId(), false, List.of(new BackendFile("4", "images", "out_00001_.png", "", "output", null)), true);
  volatile int busyAttempts;
  /** activity@taskQueue of every call, to see where each step ran. */
  final List<String> queues = new CopyOnWriteArrayList<>();
  final List<String> modelsReleased = new CopyOnWriteArrayList<>();
  final List<BackendJob> jobs = new CopyOnWriteArrayList<>();
  /** The real allocator client of the test environment (null: requestLease is not available). */
  volatile io.tempera.slots.SlotAllocatorClient allocator;
  volatile String pool = "test";
  /** The phase timeouts the plan carries, as a template would set them (null: none). */
  volatile PhaseTimeouts timeouts;
  volatile long collectDelayMillis;
  volatile Function<ModelStart, ModelEndpoint> models =
      start -> new ModelEndpoint(start.model().id(), "c-" + start.model().id(), "http://127.0.0.1:9/" + start.model().id(), false, 5);

  /** A containerised model for the function "containerised", with a CPU fallback. */
  static final io.tempera.models.ModelSpec GPU_MODEL = new io.tempera.models.ModelSpec(
      "gpu-model", "comfyui", "tempera/gpu-model:1", List.of(), java.util.Map.of(), 8188, "/system_stats", 6_000, 60, "cpu-model");
  static final io.tempera.models.ModelSpec CPU_MODEL = new io.tempera.models.ModelSpec(
      "cpu-model", "comfyui", "tempera/cpu-model:1", List.of(), java.util.Map.of(), 8188, "/system_stats", 0, 60, null);

  private void where(String step) {
    queues.add(step + "@" + io.temporal.activity.Activity.getExecutionContext().getInfo().getActivityTaskQueue());
  }

  @Override
  public GenerationPlan resolveTemplate(GenerationRequest request) {
    calls.add("resolve");
    where("resolve");
    if (request.functionId().equals("missing")) {
      throw ApplicationFailure.newNonRetryableFailure("Unknown function 'missing'", ErrorCode.UNKNOWN_FUNCTION.name());
    }
    return new GenerationPlan(
        request.functionId(), "1.0.0", request.tier(), request.tier() == null ? "standard" : request.tier(), "comfyui",
        new ObjectMapper().createObjectNode(), List.of(), 60, List.of(), null, null,
        request.functionId().equals("containerised") ? GPU_MODEL : null, timeouts);
  }

  @Override
  public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
    calls.add("plan:" + tier);
    return new GenerationPlan(plan.functionId(), plan.functionVersion(), plan.tierRequested(), tier, plan.backendType(),
        plan.payload(), plan.fileInputs(), plan.timeoutSeconds(), List.of(), plan.progressMessages(), plan.variant(), plan.model());
  }

  @Override
  public io.tempera.slots.LeaseAnswer requestLease(SlotRequest request, GenerationPlan plan) {
    calls.add("lease");
    where("lease");
    int vram = plan.model() != null ? plan.model().vramMb() : "huge".equals(plan.functionId()) && "ultra".equals(plan.tierUsed()) ? 100_000 : 0;
    return allocator.requestLease(pool, new io.tempera.slots.LeaseRequest(request.generationId(), vram, plan.functionId(), plan.tierUsed()));
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
  public GenerationPlan planOnModel(GenerationRequest request, GenerationPlan plan, String modelId) {
    calls.add("planOnModel:" + modelId);
    return new GenerationPlan(plan.functionId(), plan.functionVersion(), plan.tierRequested(), plan.tierUsed(), plan.backendType(),
        plan.payload(), plan.fileInputs(), plan.timeoutSeconds(), List.of(), plan.progressMessages(), plan.variant(),
        modelId.equals(CPU_MODEL.id()) ? CPU_MODEL : null);
  }

  @Override
  public SlotLease acquireSlot(SlotRequest request) {
    calls.add("acquire");
    if (busyAttempts-- > 0) {
      throw ApplicationFailure.newFailure("All slots are busy", ErrorCode.BACKEND_BUSY.name());
    }
    return new SlotLease("lease-" + request.generationId(), "local", request.generationId());
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
        .map(f -> new OutputRef(request.generationId() + "_" + f.filename(), request.projectId() + "/outputs/renders/" + request.nodeId() + "/" + f.filename(), "image/png", 10, 8, 8))
        .toList();
  }

  @Override
  public void releaseSlot(SlotLease lease) {
    calls.add("release");
    released.add(lease.leaseId());
  }

  static void sleep(long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
