package io.tempera.bench;

import static io.tempera.bench.BenchSystem.percentile;

import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.api.enums.v1.EventType;
import io.temporal.api.history.v1.HistoryEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Orchestration overhead one at a time, on the Temporal CLI's dev server and on the embedded
 * in-process test server, in one run: the same sequential loop as {@link
 * OrchestrationOverheadBench} (the slot allocator, a host of the default's 2 slots, the instant
 * graph on the testkit ComfyUI, real activities), once with the bench's client and workers
 * connected over gRPC to a dev server this bench starts on free ports (in memory, headless), once
 * on a fresh in-process test server. Overhead = end to end minus the backend call.
 *
 * <p>Where the time goes, from the history events' timestamps (the server's clock, the same
 * machine's): each workflow task's and activity's schedule-to-start (a hand-off through the
 * server's task queues to a polling worker), start-to-complete (the worker's own work), and the
 * same for the slot allocator's events during each generation (its Update answering the lease).
 *
 * <p>Args: [sequential count, default 200] [warm-up count, default 20]. Quick mode: {@code 20 5}.
 */
public final class DevServerOverheadBench {

  private static final String TITLE = "Orchestration overhead on the Temporal dev server";

  /** The dev-server flag that removes the hand-off's wait (see the result). */
  private static final String TUNED =
      "--dynamic-config-value history.transferProcessorMaxPollRPS=10000";

  private static final String WT = "workflow task: scheduled → started";
  private static final String RUN = "activity RunOnBackend: scheduled → started";
  private static final String COLLECT = "activity CollectOutputs: scheduled → started";

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure("dev-server-overhead.md", TITLE, () -> run(args));
  }

  /** One system's figures. */
  private record Figures(
      List<Double> endToEndMs,
      List<Double> backendMs,
      List<Double> overheadMs,
      int historyEvents,
      Map<String, List<Double>> generationSteps,
      Map<String, List<Double>> allocatorSteps,
      List<Double> clientToFirstEventMs,
      List<Double> lastEventToClientMs) {}

  static void run(String[] args) throws Exception {
    int sequential = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 20;

    Figures dev;
    String cliVersion;
    try (DevServer server = DevServer.start()) {
      cliVersion = server.version;
      try (BenchSystem system = BenchSystem.onServer(2, server.target())) {
        dev = measure(system, warmup, sequential);
      }
    }
    // the hand-off's cause, tried: the history service's transfer-queue reader polls at most
    // history.transferProcessorMaxPollRPS (default 20) times a second, so a task written after a
    // workflow task or activity completes waits up to 50 ms before it reaches matching
    Figures tuned;
    try (DevServer server = DevServer.start(TUNED)) {
      try (BenchSystem system = BenchSystem.onServer(2, server.target())) {
        tuned = measure(system, warmup, sequential);
      }
    }
    Figures embedded;
    try (BenchSystem system = new BenchSystem(2)) {
      embedded = measure(system, warmup, sequential);
    }

    StringBuilder out = new StringBuilder();
    out.append("# ").append(TITLE).append(" and in process, one run\n");
    out.append(BenchSystem.provenance());
    out.append(
        String.format(
            Locale.ROOT,
            "setup: `DevServerOverheadBench %d %d`%s — the loop of OrchestrationOverheadBench (the"
                + " slot allocator and one host of the embedded default's 2 slots, prefetch 1,"
                + " testkit ComfyUI instant 8x8 graph, real activities, default worker options),"
                + " %d generations one at a time after %d warm-up, first on the Temporal CLI's dev"
                + " server (%s; `temporal server start-dev --headless`, in memory, free ports; the"
                + " bench's client and workers connect over gRPC on 127.0.0.1), then on a fresh"
                + " in-process test server on real time (the embedded default's). Overhead = end to"
                + " end minus the backend call.%n%n",
            sequential,
            warmup,
            System.getProperty("tempera.bench.devserver.args", "").isBlank()
                ? ""
                : " with dev-server flags `"
                    + System.getProperty("tempera.bench.devserver.args").strip()
                    + "`",
            sequential,
            warmup,
            cliVersion));
    out.append("## One at a time (ms)\n\n");
    out.append(
        "| figure | dev server p50 | p90 | p99 | max | in process p50 | p90 | p99 | max |\n");
    out.append("|---|---|---|---|---|---|---|---|---|\n");
    row(out, "end to end", dev.endToEndMs(), embedded.endToEndMs());
    row(out, "backend call", dev.backendMs(), embedded.backendMs());
    row(out, "**orchestration overhead**", dev.overheadMs(), embedded.overheadMs());
    out.append(
        String.format(
            Locale.ROOT,
            "%nhistory events per generation: dev server %d, in process %d%n%n",
            dev.historyEvents(),
            embedded.historyEvents()));

    out.append("## Where the time goes (per generation, p50 over the generations, ms)\n\n");
    out.append(
        "From the history events' timestamps. scheduled → started = a hand-off: the task waits in"
            + " the server's task queue until a worker's long poll takes it (plus the worker's"
            + " poll round trip); started → completed = the worker's work (an activity's whole run,"
            + " a workflow task's replay and commands). The count is per generation. The allocator"
            + " rows are the slot allocator workflow's events between the generation's first and"
            + " last event (its Update answering the lease, the lease given back). The in-process"
            + " test server stamps events in whole milliseconds.\n\n");
    out.append(
        "| step | count | dev server: per generation | dev server: each, p50 (p10–p90) | in"
            + " process: per generation | in process: each |\n|---|---|---|---|---|---|\n");
    steps(out, "", dev.generationSteps(), embedded.generationSteps());
    steps(out, "allocator: ", dev.allocatorSteps(), embedded.allocatorSteps());
    out.append(
        String.format(
            Locale.ROOT,
            "| client start call → first history event | 1 | %.1f | | %.1f | |%n"
                + "| last history event → client has the result | 1 | %.1f | | %.1f | |%n",
            percentile(dev.clientToFirstEventMs(), 50),
            percentile(embedded.clientToFirstEventMs(), 50),
            percentile(dev.lastEventToClientMs(), 50),
            percentile(embedded.lastEventToClientMs(), 50)));

    out.append(
        String.format(
            Locale.ROOT,
            "%n## The hand-off found: the dev server with `%s`%n%n"
                + "The same loop on a second dev server started with that flag, in the same run."
                + " The history service writes a workflow task or an activity as a transfer task and"
                + " its queue reader moves it to matching; the reader polls at most"
                + " `history.transferProcessorMaxPollRPS` times a second (default 20: up to 50 ms"
                + " per hand-off). Updates (the allocator's lease) and eagerly dispatched"
                + " activities (RequestLease) skip that queue, which is why they took about 0–2"
                + " ms above.%n%n"
                + "| figure | dev server with its defaults | with the flag, as `./tempera run --temporal` starts it |"
                + " in process |%n|---|---|---|---|%n"
                + "| overhead p50 / p99 (ms) | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f |%n"
                + "| end to end p50 (ms) | %.1f | %.1f | %.1f |%n"
                + "| workflow task scheduled → started, each p50 (p10–p90) | %s | %s | %s |%n"
                + "| RunOnBackend scheduled → started | %s | %s | %s |%n"
                + "| CollectOutputs scheduled → started | %s | %s | %s |%n",
            TUNED,
            percentile(dev.overheadMs(), 50),
            percentile(dev.overheadMs(), 99),
            percentile(tuned.overheadMs(), 50),
            percentile(tuned.overheadMs(), 99),
            percentile(embedded.overheadMs(), 50),
            percentile(embedded.overheadMs(), 99),
            percentile(dev.endToEndMs(), 50),
            percentile(tuned.endToEndMs(), 50),
            percentile(embedded.endToEndMs(), 50),
            each(dev.generationSteps().get("@" + WT)),
            each(tuned.generationSteps().get("@" + WT)),
            each(embedded.generationSteps().get("@" + WT)),
            each(dev.generationSteps().get("@" + RUN)),
            each(tuned.generationSteps().get("@" + RUN)),
            each(embedded.generationSteps().get("@" + RUN)),
            each(dev.generationSteps().get("@" + COLLECT)),
            each(tuned.generationSteps().get("@" + COLLECT)),
            each(embedded.generationSteps().get("@" + COLLECT))));

    double devP50 = percentile(dev.overheadMs(), 50);
    double devP99 = percentile(dev.overheadMs(), 99);
    double embP50 = percentile(embedded.overheadMs(), 50);
    double embP99 = percentile(embedded.overheadMs(), 99);
    out.append(
        String.format(
            Locale.ROOT,
            "%ntargets (#13): overhead vs a direct client p50 <= 20 ms, p99 <= 100 ms embedded;"
                + " recorded on the dev server too (the issue sets no dev-server target; the"
                + " embedded one is applied to both):%n"
                + "- in process (embedded): p50 %.1f ms %s, p99 %.1f ms %s%n"
                + "- dev server with its defaults: p50 %.1f ms %s, p99 %.1f"
                + " ms %s (#13 measured 560 ms per generation there before its work)%n"
                + "- dev server with `%s`, as `./tempera run --temporal` starts it: p50 %.1f ms %s, p99 %.1f ms %s%n",
            embP50,
            embP50 <= 20 ? "met" : "NOT met",
            embP99,
            embP99 <= 100 ? "met" : "NOT met",
            devP50,
            devP50 <= 20 ? "met" : "NOT met",
            devP99,
            devP99 <= 100 ? "met" : "NOT met",
            TUNED,
            percentile(tuned.overheadMs(), 50),
            percentile(tuned.overheadMs(), 50) <= 20 ? "met" : "NOT met",
            percentile(tuned.overheadMs(), 99),
            percentile(tuned.overheadMs(), 99) <= 100 ? "met" : "NOT met"));
    BenchSystem.write("dev-server-overhead.md", out.toString());
  }

  private static void row(
      StringBuilder out, String name, List<Double> dev, List<Double> inProcess) {
    out.append(
        String.format(
            Locale.ROOT,
            "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |%n",
            name,
            percentile(dev, 50),
            percentile(dev, 90),
            percentile(dev, 99),
            percentile(dev, 100),
            percentile(inProcess, 50),
            percentile(inProcess, 90),
            percentile(inProcess, 99),
            percentile(inProcess, 100)));
  }

  /**
   * One row per step kind; the count is how many of that kind a generation had (p50), the times the
   * p50 of their sum per generation.
   */
  private static void steps(
      StringBuilder out,
      String prefix,
      Map<String, List<Double>> dev,
      Map<String, List<Double>> inProcess) {
    List<String> kinds = new ArrayList<>(dev.keySet());
    for (String kind : inProcess.keySet()) {
      if (!kinds.contains(kind)) {
        kinds.add(kind);
      }
    }
    for (String kind : kinds) {
      if (kind.startsWith("#") || kind.startsWith("@")) {
        continue;
      }
      List<Double> count = dev.getOrDefault("#" + kind, inProcess.get("#" + kind));
      out.append(
          String.format(
              Locale.ROOT,
              "| %s%s | %.0f | %s | %s | %s | %s |%n",
              prefix,
              kind,
              count == null ? 0 : percentile(count, 50),
              p50(dev.get(kind)),
              each(dev.get("@" + kind)),
              p50(inProcess.get(kind)),
              each(inProcess.get("@" + kind))));
    }
  }

  /** Each step's own time: p50 (p10–p90). */
  private static String each(List<Double> values) {
    return values == null || values.isEmpty()
        ? "—"
        : String.format(
            Locale.ROOT,
            "%.1f (%.1f–%.1f)",
            percentile(values, 50),
            percentile(values, 10),
            percentile(values, 90));
  }

  private static String p50(List<Double> values) {
    return values == null || values.isEmpty()
        ? "—"
        : String.format(Locale.ROOT, "%.1f", percentile(values, 50));
  }

  private static Figures measure(BenchSystem system, int warmup, int sequential) {
    int color = 0;
    for (int i = 0; i < warmup; i++) {
      GenerationResult result = system.run("warmup-" + i, "standard", color++);
      if (result.status() != GenerationStatus.SUCCEEDED) {
        throw new IllegalStateException(
            "warm-up generation " + i + " ended " + result.status() + ": " + result.error());
      }
    }
    List<Double> overheadMs = new ArrayList<>();
    List<Double> endToEndMs = new ArrayList<>();
    List<Double> backendMs = new ArrayList<>();
    List<Instant[]> clientTimes = new ArrayList<>();
    for (int i = 0; i < sequential; i++) {
      Instant began = Instant.now();
      BenchSystem.Timed timed = system.runSucceeded("seq-" + i, "standard", color++);
      clientTimes.add(new Instant[] {began, Instant.now()});
      endToEndMs.add(timed.totalMs());
      backendMs.add(timed.backendMs());
      overheadMs.add(timed.overheadMs());
    }

    // the allocator's events (every run of it: it may have continued as new)
    List<HistoryEvent> allocator = allocatorEvents(system);
    Map<String, List<Double>> generationSteps = new LinkedHashMap<>();
    Map<String, List<Double>> allocatorSteps = new LinkedHashMap<>();
    List<Double> toFirst = new ArrayList<>();
    List<Double> fromLast = new ArrayList<>();
    int historyEvents = 0;
    for (int i = 0; i < sequential; i++) {
      List<HistoryEvent> events = system.workflows.fetchHistory("gen-seq-" + i).getEvents();
      historyEvents = i == 0 ? events.size() : historyEvents;
      long first = millisOf(events.get(0));
      long last = millisOf(events.get(events.size() - 1));
      toFirst.add((first - clientTimes.get(i)[0].toEpochMilli()) * 1.0);
      fromLast.add((clientTimes.get(i)[1].toEpochMilli() - last) * 1.0);
      addSteps(generationSteps, events, "");
      List<HistoryEvent> during =
          allocator.stream().filter(e -> millisOf(e) >= first && millisOf(e) <= last).toList();
      addSteps(allocatorSteps, during, "");
    }
    return new Figures(
        endToEndMs,
        backendMs,
        overheadMs,
        historyEvents,
        generationSteps,
        allocatorSteps,
        toFirst,
        fromLast);
  }

  private static List<HistoryEvent> allocatorEvents(BenchSystem system) {
    List<HistoryEvent> all = new ArrayList<>();
    String id = SlotAllocatorWorkflow.idFor("default");
    // the first run of the allocator, then each run it continued as new into
    String run = firstRunId(system, id);
    while (run != null && !run.isEmpty()) {
      var history = system.workflows.fetchHistory(id, run);
      all.addAll(history.getEvents());
      var lastEvent = history.getLastEvent();
      run =
          lastEvent.hasWorkflowExecutionContinuedAsNewEventAttributes()
              ? lastEvent.getWorkflowExecutionContinuedAsNewEventAttributes().getNewExecutionRunId()
              : null;
    }
    return all;
  }

  /** The run id of the allocator's first run: the chain's start, found from its latest run. */
  private static String firstRunId(BenchSystem system, String id) {
    String latest =
        system.workflows.newUntypedWorkflowStub(id).describe().getExecution().getRunId();
    String first =
        system
            .workflows
            .fetchHistory(id, latest)
            .getEvents()
            .get(0)
            .getWorkflowExecutionStartedEventAttributes()
            .getFirstExecutionRunId();
    return first.isEmpty() ? latest : first;
  }

  private static long millisOf(HistoryEvent event) {
    return event.getEventTime().getSeconds() * 1000 + event.getEventTime().getNanos() / 1_000_000;
  }

  private static double millisBetween(HistoryEvent from, HistoryEvent to) {
    long nanos =
        (to.getEventTime().getSeconds() - from.getEventTime().getSeconds()) * 1_000_000_000L
            + (to.getEventTime().getNanos() - from.getEventTime().getNanos());
    return nanos / 1e6;
  }

  /**
   * Adds to {@code steps} this history's time per step kind (its sum over the history) and, under
   * "#kind", how many there were.
   */
  private static void addSteps(
      Map<String, List<Double>> steps, List<HistoryEvent> events, String prefix) {
    Map<Long, HistoryEvent> byId = new HashMap<>();
    Map<String, Double> sums = new LinkedHashMap<>();
    Map<String, Double> counts = new HashMap<>();
    for (HistoryEvent e : events) {
      byId.put(e.getEventId(), e);
      String kind = null;
      HistoryEvent from = null;
      if (e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
        from = byId.get(e.getWorkflowTaskStartedEventAttributes().getScheduledEventId());
        kind = "workflow task: scheduled → started";
      } else if (e.getEventType() == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
        from = byId.get(e.getWorkflowTaskCompletedEventAttributes().getStartedEventId());
        kind = "workflow task: started → completed";
      } else if (e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        from = byId.get(e.getActivityTaskStartedEventAttributes().getScheduledEventId());
        kind = "activity " + activityName(from) + ": scheduled → started";
      } else if (e.getEventType() == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
        from = byId.get(e.getActivityTaskCompletedEventAttributes().getStartedEventId());
        HistoryEvent scheduled =
            byId.get(e.getActivityTaskCompletedEventAttributes().getScheduledEventId());
        kind = "activity " + activityName(scheduled) + ": started → completed";
      } else if (e.getEventType() == EventType.EVENT_TYPE_MARKER_RECORDED) {
        kind = "local activity markers (no time of their own)";
      }
      if (kind == null) {
        continue;
      }
      kind = prefix + kind;
      double took = from == null ? 0 : millisBetween(from, e);
      counts.merge(kind, 1.0, Double::sum);
      sums.merge(kind, took, Double::sum);
      steps.computeIfAbsent("@" + kind, k -> new ArrayList<>()).add(took);
    }
    for (var sum : sums.entrySet()) {
      steps.computeIfAbsent(sum.getKey(), k -> new ArrayList<>()).add(sum.getValue());
      steps
          .computeIfAbsent("#" + sum.getKey(), k -> new ArrayList<>())
          .add(counts.get(sum.getKey()));
    }
  }

  private static String activityName(HistoryEvent scheduled) {
    return scheduled == null
        ? "?"
        : scheduled.getActivityTaskScheduledEventAttributes().getActivityType().getName();
  }

  /** The Temporal CLI's dev server on free ports, in memory, without its UI. */
  static final class DevServer implements AutoCloseable {
    final Process process;
    final int port;
    final String version;

    private DevServer(Process process, int port, String version) {
      this.process = process;
      this.port = port;
      this.version = version;
    }

    String target() {
      return "127.0.0.1:" + port;
    }

    static DevServer start() throws IOException, InterruptedException {
      return start(System.getProperty("tempera.bench.devserver.args", ""));
    }

    static DevServer start(String extraFlags) throws IOException, InterruptedException {
      Process ensure =
          new ProcessBuilder("scripts/ensure-temporal.sh")
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      String cli =
          new String(ensure.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (ensure.waitFor() != 0 || cli.isEmpty()) {
        throw new IllegalStateException("scripts/ensure-temporal.sh found no Temporal CLI");
      }
      Process versionOf = new ProcessBuilder(cli, "--version").redirectErrorStream(true).start();
      String version =
          new String(versionOf.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      versionOf.waitFor();
      int port = SubmitLatencyBench.freePort();
      int httpPort = SubmitLatencyBench.freePort();
      int metricsPort = SubmitLatencyBench.freePort();
      Path log = Files.createTempFile("temporal-dev-server", ".log");
      List<String> command =
          new ArrayList<>(
              List.of(
                  cli,
                  "server",
                  "start-dev",
                  "--ip",
                  "127.0.0.1",
                  "--port",
                  String.valueOf(port),
                  "--http-port",
                  String.valueOf(httpPort),
                  "--metrics-port",
                  String.valueOf(metricsPort),
                  "--headless",
                  "--log-level",
                  "warn"));
      // as ./tempera run --temporal registers them (the bench's generations do not use them)
      for (String name :
          List.of(
              "TemperaFunction", "TemperaProject", "TemperaNode", "TemperaTier", "TemperaStatus")) {
        command.add("--search-attribute");
        command.add(name + "=Keyword");
      }
      // for experiments: more flags, e.g. --dynamic-config-value KEY=VALUE (stated in the result)
      String extra = extraFlags.strip();
      if (!extra.isEmpty()) {
        command.addAll(List.of(extra.split("\\s+", -1)));
      }
      Process process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      // a bench killed or exiting early does not leave its server behind
      Runtime.getRuntime().addShutdownHook(new Thread(process::destroy));
      DevServer server = new DevServer(process, port, version);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "the dev server exited with " + process.exitValue() + ": " + Files.readString(log));
        }
        Process describe =
            new ProcessBuilder(
                    cli,
                    "operator",
                    "namespace",
                    "describe",
                    "--address",
                    server.target(),
                    "default")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (describe.waitFor() == 0) {
          return server;
        }
        if (System.nanoTime() > deadline) {
          server.close();
          throw new IllegalStateException("the dev server did not answer within 60 s");
        }
        Thread.sleep(300);
      }
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
  }
}
