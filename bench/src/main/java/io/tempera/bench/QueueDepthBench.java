package io.tempera.bench;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.slots.SlotAllocatorWorkflow;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Throughput at queue depth, as shipped: one host with the embedded default's 2 slots and the
 * pool's slot allocator, an instant graph on the testkit ComfyUI, and 8, 32 and 100 generations in
 * flight (so 6, 30 and 98 wait in line). Per depth: generations per minute, how busy the backend
 * was (the time inside backend calls over wall time times slots), latency p50/p99, and the
 * allocator's history events per generation. A fresh system per depth.
 *
 * <p>Args: [generations per depth, default 200] [depths, default 8,32,100]
 */
public final class QueueDepthBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("queue-depth.md", "Throughput at queue depth", () -> run(args));
  }

  /** The events of the allocator's run {@code runId} and of every run it continued as new into. */
  private static long allocatorEvents(BenchSystem system, String runId) {
    long events = 0;
    String run = runId;
    while (run != null && !run.isEmpty()) {
      var history = system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default"), run);
      events += history.getEvents().size();
      var last = history.getLastEvent();
      run =
          last.hasWorkflowExecutionContinuedAsNewEventAttributes()
              ? last.getWorkflowExecutionContinuedAsNewEventAttributes().getNewExecutionRunId()
              : null;
    }
    return events;
  }

  static void run(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    String depths = args.length > 1 ? args[1] : "8,32,100";
    StringBuilder rows = new StringBuilder();
    double atEight = 0;
    double atDeepest = 0;
    double lowestBusy = 1;
    for (String d : depths.split(",", -1)) {
      int inFlight = Integer.parseInt(d.strip());
      try (BenchSystem system = new BenchSystem(2)) {
        for (int i = 0; i < 4; i++) {
          system.run("warmup-" + i, "standard", i);
        }
        system.backendNanos.clear();
        system.backendCalls.clear();
        ExecutorService pool = Executors.newFixedThreadPool(inFlight);
        List<Future<GenerationResult>> futures = new ArrayList<>();
        List<Double> latencyMs = new java.util.concurrent.CopyOnWriteArrayList<>();
        var firstRun = system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default"));
        long historyBefore = firstRun.getEvents().size();
        String firstRunId =
            system
                .workflows
                .newUntypedWorkflowStub(SlotAllocatorWorkflow.idFor("default"))
                .describe()
                .getExecution()
                .getRunId();
        long executingBefore = system.comfy.executingNanos();
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
          String id = "d" + inFlight + "-" + i;
          int color = i;
          futures.add(
              pool.submit(() -> {
                long began = System.nanoTime();
                GenerationResult result = system.run(id, "standard", color);
                latencyMs.add((System.nanoTime() - began) / 1e6);
                return result;
              }));
        }
        int failed = 0;
        for (Future<GenerationResult> f : futures) {
          if (f.get().status() != GenerationStatus.SUCCEEDED) {
            failed++;
          }
        }
        long end = System.nanoTime();
        double seconds = (end - start) / 1e9;
        long executing = system.comfy.executingNanos() - executingBefore;
        double occupied = system.backendOccupiedNanos(start, end) / 1e9 / seconds;
        pool.shutdown();
        long backendNanos = system.backendNanos.values().stream().mapToLong(Long::longValue).sum();
        double inCalls = backendNanos / 1e9 / (seconds * 2);
        double executingShare = executing / 1e9 / seconds;
        double busy = occupied;
        lowestBusy = Math.min(lowestBusy, busy);
        double perMinute = count / seconds * 60;
        // every run of the allocator since (it continues as new after 2,000 events)
        long historyAfter = allocatorEvents(system, firstRunId);
        if (inFlight == 8) {
          atEight = perMinute;
        }
        atDeepest = perMinute;
        rows.append(
            String.format(
                Locale.ROOT,
                "| %d | %.0f | %.0f %% | %.0f %% | %.0f %% | %.1f ms | %.0f ms | %.0f ms | %s | %d |%n",
                inFlight,
                perMinute,
                100 * busy,
                100 * inCalls,
                100 * executingShare,
                executing / 1e6 / count,
                BenchSystem.percentile(latencyMs, 50),
                BenchSystem.percentile(latencyMs, 99),
                String.format(Locale.ROOT, "%.1f", (historyAfter - historyBefore) / (double) count),
                failed));
      }
    }
    double ratio = atEight == 0 ? 0 : atDeepest / atEight;
    BenchSystem.write(
        "queue-depth.md",
        "# Throughput at queue depth — what ships: the slot allocator, a host of 2 slots\n"
            + BenchSystem.provenance()
            + String.format(
                Locale.ROOT,
                "setup: in-process Temporal test server on real time, testkit ComfyUI (instant graph),"
                    + " %d generations per depth, a fresh system per depth%n%n",
                count)
            + "backend busy = wall time during which at least one backend call was in progress"
            + " (submit to result: the backend had work) / wall time; slots in backend calls = time"
            + " inside backend calls / (wall time x 2 slots); executor executing = the testkit"
            + " ComfyUI's one executor running prompts (the instant graph's nodes) / wall time\n\n"
            + "| in flight | generations/min | backend busy | slots in backend calls |"
            + " executor executing | execution per generation | latency p50 | latency p99 |"
            + " allocator history events per generation | failed |\n"
            + "|---|---|---|---|---|---|---|---|---|---|\n"
            + rows
            + String.format(
                Locale.ROOT,
                "%ntargets (#13):%n- backend busy >= 95 %% at every depth: %s (lowest %.0f %%)%n"
                    + "- throughput at the deepest >= 90 %% of that at 8: %s (%.0f %%)%n",
                lowestBusy >= 0.95 ? "met" : "NOT met",
                100 * lowestBusy,
                ratio >= 0.9 ? "met" : "NOT met",
                100 * ratio));
  }
}
