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

  @Override
  public GenerationPlan resolveTemplate(GenerationRequest request) {
    calls.add("resolve");
    if (request.functionId().equals("missing")) {
      throw ApplicationFailure.newNonRetryableFailure("Unknown function 'missing'", ErrorCode.UNKNOWN_FUNCTION.name());
    }
    return new GenerationPlan(
        request.functionId(), "1.0.0", request.tier(), request.tier() == null ? "standard" : request.tier(), "comfyui",
        new ObjectMapper().createObjectNode(), List.of(), 60, List.of(), null);
  }

  @Override
  public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
    calls.add("plan:" + tier);
    return new GenerationPlan(plan.functionId(), plan.functionVersion(), plan.tierRequested(), tier, plan.backendType(),
        plan.payload(), plan.fileInputs(), plan.timeoutSeconds(), List.of(), plan.progressMessages());
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
    runIds.add(job.runId());
    running.countDown();
    return backend.apply(job);
  }

  @Override
  public void cancelOnBackend(BackendJob job) {
    calls.add("cancel");
    cancelledRuns.add(job.runId());
  }

  @Override
  public List<OutputRef> collectOutputs(CollectRequest request) {
    calls.add("collect");
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
