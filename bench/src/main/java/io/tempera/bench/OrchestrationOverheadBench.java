package io.tempera.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.GenerationActivitiesImpl;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.GenerationWorkflowImpl;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.LocalSlotPool;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.Worker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Orchestration overhead of one generation on the embedded setup: N generations of an instant
 * graph against the testkit ComfyUI server, on a fresh in-process Temporal test server.
 * Overhead = end-to-end time minus the time the backend call itself took.
 *
 * <p>Args: [sequential count, default 200] [concurrent count, default 400] [in flight, default 8]
 */
public final class OrchestrationOverheadBench {

  public static void main(String[] args) throws Exception {
    int sequential = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int concurrent = args.length > 1 ? Integer.parseInt(args[1]) : 400;
    int inFlight = args.length > 2 ? Integer.parseInt(args[2]) : 8;
    Path tmp = Files.createTempDirectory("tempera-bench");
    Map<String, Long> backendNanos = new ConcurrentHashMap<>();

    try (ComfyUiTestServer comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfyui")));
        ComfyUiClient client = new ComfyUiClient(comfy.baseUrl(), ComfyUiClientOptions.defaults());
        TestWorkflowEnvironment env = TestWorkflowEnvironment.newInstance()) {
      ObjectMapper json = new ObjectMapper();
      Backend timed = new TimedBackend(new ComfyUiBackend(client), backendNanos);
      GenerationActivitiesImpl activities = new GenerationActivitiesImpl(
          new TemplateRegistry(Path.of("bench/templates"), json, 60_000),
          new TemplateTranslator(json),
          new LocalSlotPool("bench", 64),
          new BackendRegistry(List.of(timed)),
          new OutputStore(tmp.resolve("outputs")),
          new InProcessProgressBus(),
          new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
      Worker worker = env.newWorker(GenerationWorkflow.TASK_QUEUE);
      worker.registerWorkflowImplementationTypes(GenerationWorkflowImpl.class);
      worker.registerActivitiesImplementations(activities);
      env.start();
      WorkflowClient workflows = env.getWorkflowClient();

      int[] counter = {0};
      for (int i = 0; i < 20; i++) {
        run(workflows, "warmup-" + i, counter[0]++);
      }

      List<Double> overheadMs = new ArrayList<>();
      List<Double> endToEndMs = new ArrayList<>();
      List<Double> backendMs = new ArrayList<>();
      for (int i = 0; i < sequential; i++) {
        String id = "seq-" + i;
        long start = System.nanoTime();
        GenerationResult result = run(workflows, id, counter[0]++);
        long total = System.nanoTime() - start;
        if (result.status() != GenerationStatus.SUCCEEDED) {
          throw new IllegalStateException("generation " + id + " ended " + result.status() + ": " + result.error());
        }
        long backend = backendNanos.getOrDefault("gen-" + id, 0L);
        endToEndMs.add(total / 1e6);
        backendMs.add(backend / 1e6);
        overheadMs.add((total - backend) / 1e6);
      }
      int historyEvents = workflows.fetchHistory("gen-seq-0").getEvents().size();

      ExecutorService pool = Executors.newFixedThreadPool(inFlight);
      long start = System.nanoTime();
      List<Future<GenerationResult>> futures = new ArrayList<>();
      for (int i = 0; i < concurrent; i++) {
        String id = "par-" + i;
        int color = counter[0]++;
        futures.add(pool.submit(() -> run(workflows, id, color)));
      }
      int failed = 0;
      for (Future<GenerationResult> f : futures) {
        if (f.get().status() != GenerationStatus.SUCCEEDED) {
          failed++;
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      pool.shutdown();
      double perMinute = concurrent / seconds * 60;

      String report = String.format(Locale.ROOT, """
          # Orchestration overhead — embedded setup
          date: %s
          machine: %d cores, JDK %s
          setup: in-process Temporal test server, testkit ComfyUI (8x8 EmptyImage -> SaveImage), real activities

          ## One at a time (%d generations after 20 warm-up)
          | figure | p50 | p90 | p99 | max |
          |---|---|---|---|---|
          | end to end (ms) | %.1f | %.1f | %.1f | %.1f |
          | backend call (ms) | %.1f | %.1f | %.1f | %.1f |
          | orchestration overhead (ms) | %.1f | %.1f | %.1f | %.1f |

          history events per generation: %d

          ## Sustained (%d generations, %d in flight)
          generations per minute: %.0f (%d failed)

          target: p50 overhead <= 50 ms -> %s
          """,
          Instant.now(), Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
          sequential,
          pct(endToEndMs, 50), pct(endToEndMs, 90), pct(endToEndMs, 99), pct(endToEndMs, 100),
          pct(backendMs, 50), pct(backendMs, 90), pct(backendMs, 99), pct(backendMs, 100),
          pct(overheadMs, 50), pct(overheadMs, 90), pct(overheadMs, 99), pct(overheadMs, 100),
          historyEvents, concurrent, inFlight, perMinute, failed,
          pct(overheadMs, 50) <= 50 ? "met" : "NOT met");
      System.out.println(report);
      Path results = Path.of("bench/results");
      Files.createDirectories(results);
      Files.writeString(results.resolve("orchestration-overhead.md"), report);
      System.out.println("written to " + results.resolve("orchestration-overhead.md"));
    }
  }

  private static GenerationResult run(WorkflowClient workflows, String id, int color) {
    GenerationWorkflow workflow = workflows.newWorkflowStub(
        GenerationWorkflow.class,
        WorkflowOptions.newBuilder().setTaskQueue(GenerationWorkflow.TASK_QUEUE).setWorkflowId("gen-" + id).build());
    return workflow.run(new GenerationRequest("instant", "standard", Map.of("color", color % 16_777_215), "bench", "node", null));
  }

  private static double pct(List<Double> values, int p) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  /** Measures how long each backend run takes, by generation. */
  private record TimedBackend(Backend delegate, Map<String, Long> nanos) implements Backend {
    @Override public String type() { return delegate.type(); }

    @Override
    public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
      long start = System.nanoTime();
      try {
        return delegate.run(job, projectDir, progress);
      } finally {
        nanos.merge(job.generationId(), System.nanoTime() - start, Long::sum);
      }
    }

    @Override public void cancel(BackendJob job) { delegate.cancel(job); }

    @Override public long download(BackendFile file, Path target) { return delegate.download(file, target); }
  }
}
