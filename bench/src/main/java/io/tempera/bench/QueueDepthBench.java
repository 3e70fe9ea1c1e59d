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
 * <p>Args: [generations per depth, default 200; twice the depth when more] [depths, default
 * 8,32,100,1000]
 */
public final class QueueDepthBench {

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("queue-depth.md", "Throughput at queue depth", () -> run(args));
  }

  /** The events of the allocator's run {@code runId} and of every run it continued as new into. */
  static long allocatorEvents(BenchSystem system, String runId) {
    long events = 0;
    for (var history : allocatorRuns(system, runId)) {
      events += history.getEvents().size();
      // every run of the allocator replays (a nondeterminism would stall a deep queue for good)
      try {
        io.temporal.testing.WorkflowReplayer.replayWorkflowExecution(
            history, io.tempera.slots.SlotAllocatorWorkflowImpl.class);
      } catch (Exception nondeterministic) {
        String run = history.getWorkflowExecution().getRunId();
        java.nio.file.Path dump = java.nio.file.Path.of("/tmp/allocator-" + run + ".json");
        try {
          java.nio.file.Files.writeString(dump, history.toJson(true));
        } catch (java.io.IOException ignored) {
          // the failure below says enough
        }
        throw new IllegalStateException(
            "the allocator's run " + run + " does not replay (history in " + dump + ")",
            nondeterministic);
      }
    }
    return events;
  }

  /**
   * The histories of the allocator's runs from {@code firstRunId} to its current run, in order.
   * Walked back from the current run, whose started event names the run it continued from: the
   * in-process test server has been seen to lose a run's last events (its continue-as-new among
   * them) when a workflow task's completion was answered "already completed", so a walk forward
   * from the first run stopped there and counted a fraction of the events.
   */
  static List<io.temporal.common.WorkflowExecutionHistory> allocatorRuns(
      BenchSystem system, String firstRunId) {
    java.util.ArrayDeque<io.temporal.common.WorkflowExecutionHistory> runs =
        new java.util.ArrayDeque<>();
    String run = system.allocatorRunId();
    while (run != null && !run.isEmpty()) {
      var history = system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default"), run);
      runs.addFirst(history);
      if (run.equals(firstRunId)) {
        return List.copyOf(runs);
      }
      run =
          history
              .getEvents()
              .getFirst()
              .getWorkflowExecutionStartedEventAttributes()
              .getContinuedExecutionRunId();
    }
    throw new IllegalStateException(
        "the allocator's current run does not continue from run " + firstRunId);
  }

  /**
   * Prints the history, in ms from the longest gap's end, of the generation whose backend call
   * ended that gap, and the allocator's events around it (a diagnosis, on request).
   */
  static void explainLongestGap(BenchSystem system, long from, long to) {
    Idle idle = Idle.of(system.backendCalls, from, to);
    long[] gap = idle == null ? null : idle.longest();
    if (gap == null) {
      System.out.println("no gap between backend calls");
      return;
    }
    long longest = gap[1] - gap[0];
    long gapAt = gap[1];
    // System.nanoTime to epoch millis, as the server stamps events
    double epochOfGapEnd = System.currentTimeMillis() - (System.nanoTime() - gapAt) / 1e6;
    System.out.printf(
        Locale.ROOT, "longest gap %.1f ms, ended at %.3f s%n", longest / 1e6, (gapAt - from) / 1e9);
    system.backendStarted.entrySet().stream()
        .filter(e -> Math.abs(e.getValue() - gapAt) < 1_000)
        .forEach(e -> print(system, e.getKey(), epochOfGapEnd, Double.MAX_VALUE));
    print(system, SlotAllocatorWorkflow.idFor("default"), epochOfGapEnd, longest / 1e6 + 200);
  }

  private static void print(BenchSystem system, String workflowId, double epoch, double window) {
    System.out.println("-- " + workflowId);
    // this run and the runs before it (the allocator continues as new), oldest first
    List<io.temporal.common.WorkflowExecutionHistory> runs = new ArrayList<>();
    var history = system.workflows.fetchHistory(workflowId);
    runs.add(0, history);
    for (int i = 0; i < 3; i++) {
      var started = history.getEvents().get(0).getWorkflowExecutionStartedEventAttributes();
      if (started.getContinuedExecutionRunId().isEmpty()) {
        break;
      }
      history = system.workflows.fetchHistory(workflowId, started.getContinuedExecutionRunId());
      runs.add(0, history);
    }
    for (var run : runs) {
      System.out.println("   (run " + run.getWorkflowExecution().getRunId() + ")");
      printEvents(run, epoch, window);
    }
  }

  private static void printEvents(
      io.temporal.common.WorkflowExecutionHistory history, double epoch, double window) {
    for (var e : history.getEvents()) {
      double at = com.google.protobuf.util.Timestamps.toMillis(e.getEventTime()) - epoch;
      if (Math.abs(at) <= window) {
        System.out.printf(
            Locale.ROOT,
            "%9.1f ms  %5d %s %s%n",
            at,
            e.getEventId(),
            e.getEventType().name().replace("EVENT_TYPE_", ""),
            e.hasWorkflowTaskFailedEventAttributes()
                ? e.getWorkflowTaskFailedEventAttributes().getCause().name()
                : "");
      }
    }
  }

  /** One row: how long the backend sat idle before, between and after the calls of one depth. */
  static String whereTheBackendWaited(
      int inFlight, java.util.Collection<long[]> calls, long from, long to) {
    Idle idle = Idle.of(calls, from, to);
    if (idle == null) {
      return String.format(Locale.ROOT, "| %d | no backend call | | | | | | |%n", inFlight);
    }
    List<Double> gaps = idle.gaps().stream().map(g -> (g[1] - g[0]) / 1e6).toList();
    long[] longest = idle.longest();
    return String.format(
        Locale.ROOT,
        "| %d | %.0f ms | %d | %.0f ms | %.1f ms | %.1f ms | %.1f ms at %.1f s | %.0f ms |%n",
        inFlight,
        (idle.firstCallStart() - from) / 1e6,
        gaps.size(),
        gaps.stream().mapToDouble(Double::doubleValue).sum(),
        gaps.isEmpty() ? 0 : BenchSystem.percentile(gaps, 50),
        gaps.isEmpty() ? 0 : BenchSystem.percentile(gaps, 99),
        longest == null ? 0 : (longest[1] - longest[0]) / 1e6,
        longest == null ? 0 : (longest[0] - from) / 1e9,
        (to - idle.lastCallEnd()) / 1e6);
  }

  /**
   * When no backend call was in progress between the first call's start and the last call's end
   * (System.nanoTime): the gaps, each {start, end}, in order.
   */
  record Idle(long firstCallStart, long lastCallEnd, List<long[]> gaps) {

    /** Of the calls that overlap [from, to]; null when there are none. */
    static Idle of(java.util.Collection<long[]> calls, long from, long to) {
      List<long[]> sorted =
          calls.stream()
              .filter(c -> c[1] > from && c[0] < to)
              .sorted(java.util.Comparator.comparingLong(c -> c[0]))
              .toList();
      if (sorted.isEmpty()) {
        return null;
      }
      List<long[]> gaps = new ArrayList<>();
      long end = sorted.get(0)[1];
      for (long[] c : sorted) {
        if (c[0] > end) {
          gaps.add(new long[] {end, c[0]});
        }
        end = Math.max(end, c[1]);
      }
      return new Idle(sorted.get(0)[0], end, gaps);
    }

    /** The longest gap (the first of equals), or null when there is none. */
    long[] longest() {
      long[] longest = null;
      for (long[] g : gaps) {
        if (longest == null || g[1] - g[0] > longest[1] - longest[0]) {
          longest = g;
        }
      }
      return longest;
    }
  }

  /**
   * The process's peak heap in use, resident memory and live platform threads, sampled every 200
   * ms.
   */
  static final class Resources {
    private final java.util.concurrent.atomic.AtomicLong heap =
        new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong rss =
        new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong threads =
        new java.util.concurrent.atomic.AtomicLong();
    private volatile boolean stopped;
    private Thread sampler;

    static Resources sample() {
      Resources r = new Resources();
      r.sampler =
          Thread.ofPlatform()
              .daemon()
              .name("bench-resources")
              .start(() -> {
                var memory = java.lang.management.ManagementFactory.getMemoryMXBean();
                var live = java.lang.management.ManagementFactory.getThreadMXBean();
                while (!r.stopped) {
                  r.heap.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
                  r.rss.accumulateAndGet(rssBytes(), Math::max);
                  r.threads.accumulateAndGet(live.getThreadCount(), Math::max);
                  try {
                    Thread.sleep(200);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              });
      return r;
    }

    void stop() throws InterruptedException {
      stopped = true;
      sampler.join();
    }

    long peakHeapMb() {
      return heap.get() / (1024 * 1024);
    }

    long peakRssMb() {
      return rss.get() / (1024 * 1024);
    }

    long peakThreads() {
      return threads.get();
    }

    private static long rssBytes() {
      try {
        for (String line :
            java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
          if (line.startsWith("VmRSS:")) {
            return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
          }
        }
      } catch (java.io.IOException | NumberFormatException e) {
        return 0;
      }
      return 0;
    }
  }

  static void run(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    String depths = args.length > 1 ? args[1] : "8,32,100,1000";
    StringBuilder rows = new StringBuilder();
    StringBuilder waits = new StringBuilder();
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
        int total = Math.max(count, 2 * inFlight);
        // the bench's own callers on virtual threads, at most inFlight at once: the platform
        // threads counted below are the system's, not one per caller
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        java.util.concurrent.Semaphore gate = new java.util.concurrent.Semaphore(inFlight);
        Resources resources = Resources.sample();
        List<Future<GenerationResult>> futures = new ArrayList<>();
        List<Double> latencyMs = new java.util.concurrent.CopyOnWriteArrayList<>();
        var firstRun = system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default"));
        long historyBefore = firstRun.getEvents().size();
        String firstRunId = system.allocatorRunId();
        long executingBefore = system.comfy.executingNanos();
        long start = System.nanoTime();
        for (int i = 0; i < total; i++) {
          String id = "d" + inFlight + "-" + i;
          int color = i;
          futures.add(
              pool.submit(() -> {
                gate.acquire();
                try {
                  long began = System.nanoTime();
                  // followed as the API follows: the end from the progress bus, no long poll
                  GenerationResult result = system.runFollowingTheBus(id, "standard", color);
                  latencyMs.add((System.nanoTime() - began) / 1e6);
                  return result;
                } finally {
                  gate.release();
                }
              }));
        }
        int failed = 0;
        for (Future<GenerationResult> f : futures) {
          GenerationResult ended;
          try {
            ended = f.get(180, java.util.concurrent.TimeUnit.SECONDS);
          } catch (java.util.concurrent.TimeoutException stuck) {
            var history = system.workflows.fetchHistory(SlotAllocatorWorkflow.idFor("default"));
            java.nio.file.Path dump = java.nio.file.Path.of("/tmp/allocator-stuck.json");
            java.nio.file.Files.writeString(dump, history.toJson(true));
            throw new IllegalStateException(
                "a generation did not end within 3 minutes (allocator history in " + dump + ")",
                stuck);
          }
          if (ended.status() != GenerationStatus.SUCCEEDED) {
            failed++;
          }
        }
        long end = System.nanoTime();
        resources.stop();
        double seconds = (end - start) / 1e9;
        long executing = system.comfy.executingNanos() - executingBefore;
        double occupied = system.backendOccupiedNanos(start, end) / 1e9 / seconds;
        pool.shutdown();
        long backendNanos = system.backendNanos.values().stream().mapToLong(Long::longValue).sum();
        double inCalls = backendNanos / 1e9 / (seconds * 2);
        double executingShare = executing / 1e9 / seconds;
        double busy = occupied;
        lowestBusy = Math.min(lowestBusy, busy);
        waits.append(whereTheBackendWaited(inFlight, system.backendCalls, start, end));
        if (Boolean.getBoolean("tempera.bench.explain-longest-gap")) {
          explainLongestGap(system, start, end);
        }
        double perMinute = total / seconds * 60;
        // every run of the allocator since (it continues as new after 2,000 events)
        long historyAfter = allocatorEvents(system, firstRunId);
        if (inFlight == 8) {
          atEight = perMinute;
        }
        atDeepest = perMinute;
        rows.append(
            String.format(
                Locale.ROOT,
                "| %d | %.0f | %.0f %% | %.0f %% | %.0f %% | %.1f ms | %.0f ms | %.0f ms | %s | %d MB | %d MB | %d | %d | %d |%n",
                inFlight,
                perMinute,
                100 * busy,
                100 * inCalls,
                100 * executingShare,
                executing / 1e6 / total,
                BenchSystem.percentile(latencyMs, 50),
                BenchSystem.percentile(latencyMs, 99),
                String.format(Locale.ROOT, "%.1f", (historyAfter - historyBefore) / (double) total),
                resources.peakHeapMb(),
                resources.peakRssMb(),
                resources.peakThreads(),
                total,
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
                    + " %d generations per depth (twice the depth when more), a fresh system per depth,"
                    + " max heap %d MB (the whole process: server, workers, testkit, callers)%n%n",
                count,
                Runtime.getRuntime().maxMemory() / (1024 * 1024))
            + "backend busy = wall time during which at least one backend call was in progress"
            + " (submit to result: the backend had work) / wall time; slots in backend calls = time"
            + " inside backend calls / (wall time x 2 slots); executor executing = the testkit"
            + " ComfyUI's one executor running prompts (the instant graph's nodes) / wall time\n\n"
            + "| in flight | generations/min | backend busy | slots in backend calls |"
            + " executor executing | execution per generation | latency p50 | latency p99 |"
            + " allocator history events per generation | peak heap used | peak RSS |"
            + " peak platform threads | generations | failed |\n"
            + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            + rows
            + "\nWhere the backend waited (idle = no backend call in progress): before the first"
            + " call (the first generation's way through planning, lease and run), between calls"
            + " while generations waited, and after the last call (only outputs being collected: no"
            + " work waits then)\n\n"
            + "| in flight | before the first call | idle gaps between calls | idle between calls,"
            + " total | gap p50 | gap p99 | longest gap, and when | after the last call |\n"
            + "|---|---|---|---|---|---|---|---|\n"
            + waits
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
