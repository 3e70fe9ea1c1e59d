package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Orchestration overhead of one generation on the embedded setup: N generations of an instant graph
 * against the testkit ComfyUI server, on a fresh in-process Temporal test server. Overhead =
 * end-to-end time minus the time the backend call itself took.
 *
 * <p>Args: [sequential count, default 200] [concurrent count, default 400] [in flight, default 8]
 */
public final class OrchestrationOverheadBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(
        "orchestration-overhead.md", "Orchestration overhead", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int sequential = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int concurrent = args.length > 1 ? Integer.parseInt(args[1]) : 400;
    int inFlight = args.length > 2 ? Integer.parseInt(args[2]) : 8;

    try (BenchSystem system = new BenchSystem(2)) { // the embedded default's 2 slots
      int[] counter = {0};
      for (int i = 0; i < 20; i++) {
        system.run("warmup-" + i, "standard", counter[0]++);
      }

      List<Double> overheadMs = new ArrayList<>();
      List<Double> endToEndMs = new ArrayList<>();
      List<Double> backendMs = new ArrayList<>();
      for (int i = 0; i < sequential; i++) {
        BenchSystem.Timed timed = system.runSucceeded("seq-" + i, "standard", counter[0]++);
        endToEndMs.add(timed.totalMs());
        backendMs.add(timed.backendMs());
        overheadMs.add(timed.overheadMs());
      }
      int historyEvents = system.workflows.fetchHistory("gen-seq-0").getEvents().size();

      ExecutorService pool = Executors.newFixedThreadPool(inFlight);
      long start = System.nanoTime();
      List<Future<GenerationResult>> futures = new ArrayList<>();
      for (int i = 0; i < concurrent; i++) {
        String id = "par-" + i;
        int color = counter[0]++;
        futures.add(pool.submit(() -> system.run(id, "standard", color)));
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

      BenchSystem.write(
          "orchestration-overhead.md",
          String.format(
              Locale.ROOT,
              """
              # Orchestration overhead — embedded setup
              %s
              setup: in-process Temporal test server on real time, the slot allocator and a host of 2 slots (as shipped), testkit ComfyUI (8x8 EmptyImage -> SaveImage), real activities

              ## One at a time (%d generations after 20 warm-up)
              | figure | p50 | p90 | p99 | max |
              |---|---|---|---|---|
              | end to end (ms) | %.1f | %.1f | %.1f | %.1f |
              | backend call (ms) | %.1f | %.1f | %.1f | %.1f |
              | orchestration overhead (ms) | %.1f | %.1f | %.1f | %.1f |

              history events per generation: %d

              ## Sustained (%d generations, %d in flight)
              generations per minute: %.0f (%d failed)

              targets (#13), embedded:
              - overhead over the direct backend call p50 <= 20 ms: %s
              - overhead p99 <= 100 ms: %s
              - history events per plain generation <= 25: %s
              """,
              BenchSystem.provenance().strip(),
              sequential,
              percentile(endToEndMs, 50),
              percentile(endToEndMs, 90),
              percentile(endToEndMs, 99),
              percentile(endToEndMs, 100),
              percentile(backendMs, 50),
              percentile(backendMs, 90),
              percentile(backendMs, 99),
              percentile(backendMs, 100),
              percentile(overheadMs, 50),
              percentile(overheadMs, 90),
              percentile(overheadMs, 99),
              percentile(overheadMs, 100),
              historyEvents,
              concurrent,
              inFlight,
              perMinute,
              failed,
              percentile(overheadMs, 50) <= 20 ? "met" : "NOT met",
              percentile(overheadMs, 99) <= 100 ? "met" : "NOT met",
              historyEvents <= 25 ? "met" : "NOT met"));
    }
  }
}
