package io.tempera.bench;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Recovery under injected faults: the testkit ComfyUI server fails a share of prompts (a 500 on
 * submit, a dropped WebSocket mid-run, a CUDA out-of-memory error) and the generations are counted
 * by how they ended. A generation that met a fault and still succeeded was recovered.
 *
 * <p>Args: [generations, default 300] [fault rate, default 0.2] [seed, default 42]
 */
public final class RecoveryBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("recovery.md", "Recovery under injected faults", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 300;
    double rate = args.length > 1 ? Double.parseDouble(args[1]) : 0.2;
    long seed = args.length > 2 ? Long.parseLong(args[2]) : 42;

    try (BenchSystem system = new BenchSystem()) {
      system.comfy.injectFaults(rate, seed);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<GenerationResult>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        String id = "fault-" + i;
        int color = i;
        futures.add(pool.submit(() -> system.run(id, "high", color)));
      }
      Map<String, Integer> outcomes = new TreeMap<>();
      int succeeded = 0;
      int fellBack = 0;
      for (Future<GenerationResult> f : futures) {
        GenerationResult result = f.get();
        if (result.status() == GenerationStatus.SUCCEEDED) {
          succeeded++;
          if (!result.fallbacks().isEmpty()) {
            fellBack++;
          }
        } else {
          outcomes.merge(result.error().code(), 1, Integer::sum);
        }
      }
      pool.shutdown();
      Map<String, Integer> injected = system.comfy.faultsInjected();
      int faults = injected.values().stream().mapToInt(Integer::intValue).sum();
      int failed = count - succeeded;
      double recovered = faults == 0 ? 0.0 : (double) (faults - failed) / faults;

      BenchSystem.write(
          "recovery.md",
          String.format(
              Locale.ROOT,
              """
              # Recovery under injected faults
              date: %s
              machine: %d cores, JDK %s
              setup: in-process Temporal test server, testkit ComfyUI injecting faults at rate %.2f (seed %d), %d generations at tier high

              faults injected: %d %s
              generations succeeded: %d of %d (%.1f%%), %d of them after falling back to a lower tier
              generations failed: %d %s
              recovery rate (faults that did not fail their generation): %.1f%%

              target: recovery > 80%% -> %s
              """,
              Instant.now(),
              Runtime.getRuntime().availableProcessors(),
              System.getProperty("java.version"),
              rate,
              seed,
              count,
              faults,
              injected,
              succeeded,
              count,
              100.0 * succeeded / count,
              fellBack,
              failed,
              outcomes,
              100 * recovered,
              faults == 0
                  ? "FAILED (no fault was injected: this run did not measure recovery)"
                  : recovered > 0.8 ? "met" : "NOT met"));
    }
  }
}
