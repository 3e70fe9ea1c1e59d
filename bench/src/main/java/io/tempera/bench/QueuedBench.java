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
import java.util.concurrent.TimeUnit;

/**
 * #13's "10,000 queued on one host": that many generations started at once on the embedded
 * default's host of 2 slots and the pool's slot allocator (instant graph on the testkit ComfyUI),
 * each followed as the API follows one (its end from the progress bus, no long poll). Measures how
 * long the starts take, the longest line the allocator held, the process's peak heap, RSS and
 * platform threads while they wait, how long the line takes to drain, and whether every allocator
 * run replays.
 *
 * <p>Args: [generations, default 10000]
 */
public final class QueuedBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("queued.md", "Queued on one host", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    try (BenchSystem system = new BenchSystem(2)) {
      for (int i = 0; i < 4; i++) {
        system.run("warmup-" + i, "standard", i);
      }
      String firstRunId = system.allocatorRunId();
      long historyBefore =
          system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default")).getEvents().size();
      QueueDepthBench.Resources resources = QueueDepthBench.Resources.sample();
      ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();
      List<Future<GenerationResult>> futures = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < count; i++) {
        String id = "q-" + i;
        int color = i;
        futures.add(callers.submit(() -> system.runFollowingTheBus(id, "standard", color)));
      }
      // the longest line, sampled from the allocator's own state while it drains
      int longestLine = 0;
      long allStartedNanos = 0;
      while (futures.stream().anyMatch(f -> !f.isDone())) {
        try {
          int line = system.allocatorWaiters();
          longestLine = Math.max(longestLine, line);
          if (allStartedNanos == 0 && line + 3 >= count - finished(futures)) {
            allStartedNanos = System.nanoTime() - start;
          }
        } catch (RuntimeException busy) {
          // a query that times out under load is only a missed sample
        }
        Thread.sleep(2000);
      }
      int failed = 0;
      for (Future<GenerationResult> f : futures) {
        if (f.get(1, TimeUnit.SECONDS).status() != GenerationStatus.SUCCEEDED) {
          failed++;
        }
      }
      long end = System.nanoTime();
      resources.stop();
      callers.shutdown();
      double seconds = (end - start) / 1e9;
      long allocatorEvents =
          QueueDepthBench.allocatorEvents(system, firstRunId) - historyBefore; // replays each run
      boolean met = failed == 0; // in the 1 GiB heap ./tempera bench gives it (no OutOfMemoryError)
      BenchSystem.write(
          "queued.md",
          "# "
              + count
              + " queued on one host — what ships: the slot allocator, a host of 2 slots\n"
              + BenchSystem.provenance()
              + String.format(
                  Locale.ROOT,
                  "setup: in-process Temporal test server on real time, testkit ComfyUI (instant"
                      + " graph), %d generations started at once (virtual-thread callers, at most 64"
                      + " start calls in flight, as an API's request threads would send them), each"
                      + " followed by its end on the progress bus as the API follows one; max heap"
                      + " %d MB for the whole process (server, workers, testkit, callers)%n%n",
                  count,
                  Runtime.getRuntime().maxMemory() / (1024 * 1024))
              + "| figure | value |\n|---|---|\n"
              + String.format(
                  Locale.ROOT,
                  "| generations | %d (failed %d) |%n| longest line the allocator held | %d |%n"
                      + "| all in line after | %s |%n| drained after | %.1f s (%.0f/min) |%n"
                      + "| peak heap used | %d MB |%n| peak RSS | %d MB |%n"
                      + "| peak platform threads | %d |%n"
                      + "| allocator history events per generation | %.1f (every run replayed) |%n",
                  count,
                  failed,
                  longestLine,
                  allStartedNanos == 0
                      ? "not seen (the line never held them all)"
                      : String.format(Locale.ROOT, "%.1f s", allStartedNanos / 1e9),
                  seconds,
                  count / seconds * 60,
                  resources.peakHeapMb(),
                  resources.peakRssMb(),
                  resources.peakThreads(),
                  allocatorEvents / (double) count)
              + String.format(
                  Locale.ROOT,
                  "%ntarget (#13): %d queued on one host, every one succeeding (in a %d MB heap): %s%n",
                  count,
                  Runtime.getRuntime().maxMemory() / (1024 * 1024),
                  met ? "met" : "NOT met"));
    }
  }

  private static int finished(List<Future<GenerationResult>> futures) {
    return (int) futures.stream().filter(Future::isDone).count();
  }
}
