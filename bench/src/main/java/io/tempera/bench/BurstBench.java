package io.tempera.bench;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A burst: N generations started at once on a host whose slots are free (as many slots as the
 * burst), through what ships — the pool's slot allocator, the host's queue, the real activities,
 * the testkit ComfyUI — on the in-process Temporal test server on real time. All N callers are
 * released by one latch and each starts its generation and waits for its result (the start RPCs go
 * out in parallel). A generation counts as running when its backend call began: its lease was
 * granted and its run activity reached the backend. Reported: time from the burst until the first,
 * the median and the last generation ran (all running), until all had finished, and the most
 * backend calls in progress at once.
 *
 * <p>Each backend call can hold for a while first (a sleep, no CPU: a backend that takes that long
 * and runs any number of calls side by side), so that "all running" is visible as all N inside
 * their backend calls at once; with a hold of 0 the instant graph runs as it is.
 *
 * <p>Args: [burst sizes, default 100,1000] [backend holds in ms, default 0,2000]. Quick mode:
 * {@code 20 0,500}.
 */
public final class BurstBench {

  private static final String TITLE = "Burst: generations started at once";

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("burst.md", TITLE, () -> run(args));
  }

  private record Row(
      int size,
      long holdMillis,
      double firstRunningMs,
      double medianRunningMs,
      double allRunningMs,
      double firstFinishedMs,
      double allFinishedMs,
      int peakInFlight,
      int failed) {}

  static void run(String[] args) throws Exception {
    String sizes = args.length > 0 ? args[0] : "100,1000";
    String holds = args.length > 1 ? args[1] : "0,2000";
    List<Row> rows = new ArrayList<>();
    for (String h : holds.split(",", -1)) {
      for (String n : sizes.split(",", -1)) {
        rows.add(burst(Integer.parseInt(n.strip()), Long.parseLong(h.strip())));
      }
    }
    StringBuilder table = new StringBuilder();
    String verdict = null;
    for (Row r : rows) {
      table.append(
          String.format(
              Locale.ROOT,
              "| %d | %d ms | %.0f ms | %.0f ms | **%.0f ms** | %.0f ms | %.0f ms | %d | %d |%n",
              r.size(),
              r.holdMillis(),
              r.firstRunningMs(),
              r.medianRunningMs(),
              r.allRunningMs(),
              r.firstFinishedMs(),
              r.allFinishedMs(),
              r.peakInFlight(),
              r.failed()));
      if (r.size() == 100) {
        String one =
            r.failed() > 0
                ? String.format(
                    Locale.ROOT,
                    "NOT met (hold %d ms: %d of 100 failed)",
                    r.holdMillis(),
                    r.failed())
                : String.format(
                    Locale.ROOT,
                    "%s (hold %d ms: all 100 running after %.0f ms)",
                    r.allRunningMs() <= 1000 ? "met" : "NOT met",
                    r.holdMillis(),
                    r.allRunningMs());
        verdict = verdict == null ? one : verdict + "; " + one;
      }
    }
    BenchSystem.write(
        "burst.md",
        "# "
            + TITLE
            + "\n"
            + BenchSystem.provenance()
            + String.format(
                Locale.ROOT,
                "setup: `BurstBench %s %s` — in-process Temporal test server on real time, the pool's"
                    + " slot allocator, one host with as many slots as the burst (prefetch %d, as"
                    + " shipped), the testkit ComfyUI (instant 8x8 graph, a new colour per run), real"
                    + " activities, default worker options; a fresh system per row after 4 warm-up"
                    + " generations; max heap %d MB. The N callers are virtual threads released by"
                    + " one latch; each starts its generation (one start RPC, in parallel) and waits"
                    + " for its result.%n%n",
                sizes,
                holds,
                Integer.getInteger(
                    "tempera.bench.prefetch", io.tempera.slots.HostRegistration.DEFAULT_PREFETCH),
                Runtime.getRuntime().maxMemory() / (1024 * 1024))
            + "running = the generation's backend call began (lease granted, run activity on the"
            + " host reached the backend); times are from the latch's release. hold = each backend"
            + " call first sleeps that long (no CPU), so a running generation stays running and"
            + " 'all running' shows as that many backend calls in progress at once (peak in"
            + " flight); hold 0 = the instant graph as it is (a few ms each, the testkit's one"
            + " executor runs them one after another).\n\n"
            + "| burst | hold | first running | half running | all running | first finished |"
            + " all finished | peak backend calls at once | failed |\n"
            + "|---|---|---|---|---|---|---|---|---|\n"
            + table
            + "\ntarget (#13): 100 started at once all running within 1 s when slots are free: "
            + (verdict == null ? "not measured (no burst of 100 in this run)" : verdict)
            + "\n");
  }

  private static Row burst(int size, long holdMillis) throws Exception {
    try (BenchSystem system = BenchSystem.withBackendHold(size, holdMillis)) {
      for (int i = 0; i < 4; i++) {
        GenerationResult warm = system.run("warmup-" + i, "standard", i);
        if (warm.status() != GenerationStatus.SUCCEEDED) {
          throw new IllegalStateException("a warm-up generation ended " + warm.status());
        }
      }
      system.backendStarted.clear();
      system.backendPeakInFlight.set(0);
      CountDownLatch go = new CountDownLatch(1);
      Map<String, Long> finished = new ConcurrentHashMap<>();
      List<Future<GenerationResult>> results = new ArrayList<>();
      ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        String id = "burst" + size + "-" + i;
        ids.add("gen-" + id);
        int color = 1000 + i;
        results.add(
            callers.submit(() -> {
              go.await();
              GenerationResult result = system.run(id, "standard", color);
              finished.put("gen-" + id, System.nanoTime());
              return result;
            }));
      }
      Thread.sleep(500); // every caller waits on the latch
      long start = System.nanoTime();
      go.countDown();
      int failed = 0;
      for (Future<GenerationResult> f : results) {
        GenerationResult result;
        try {
          result = f.get(5, TimeUnit.MINUTES);
        } catch (java.util.concurrent.TimeoutException stuck) {
          throw new IllegalStateException(
              "a generation of the burst of " + size + " did not end within 5 minutes", stuck);
        }
        if (result.status() != GenerationStatus.SUCCEEDED) {
          failed++;
        }
      }
      callers.shutdown();
      List<Double> runningMs = new ArrayList<>();
      for (String id : ids) {
        Long began = system.backendStarted.get(id);
        if (began == null) {
          if (failed == 0) {
            throw new IllegalStateException(id + " succeeded without a backend call");
          }
          continue;
        }
        runningMs.add((began - start) / 1e6);
      }
      List<Double> finishedMs = finished.values().stream().map(t -> (t - start) / 1e6).toList();
      if (runningMs.isEmpty()) {
        throw new IllegalStateException("no generation of the burst of " + size + " ran");
      }
      return new Row(
          size,
          holdMillis,
          BenchSystem.percentile(runningMs, 0),
          BenchSystem.percentile(runningMs, 50),
          BenchSystem.percentile(runningMs, 100),
          BenchSystem.percentile(finishedMs, 0),
          BenchSystem.percentile(finishedMs, 100),
          system.backendPeakInFlight.get(),
          failed);
    }
  }
}
