package io.tempera.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import io.temporal.serviceclient.WorkflowServiceStubs;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import io.temporal.testing.TestWorkflowEnvironment;
import io.temporal.worker.WorkerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * What a benchmark runs on: a fresh in-process Temporal test server, a worker with the real
 * activities, and the testkit ComfyUI server; the backend call of each generation is timed.
 */
final class BenchSystem implements AutoCloseable {

  final ComfyUiTestServer comfy;
  final ComfyUiClient client;

  /** The in-process test server; null on a real Temporal server ({@link #onServer}). */
  final TestWorkflowEnvironment env;

  final WorkflowClient workflows;

  /**
   * At most 64 generation starts at once, as an API's pool of request threads would send them (a
   * start is a blocking gRPC call: 10,000 at once would take a transport thread each).
   */
  private final java.util.concurrent.Semaphore starting = new java.util.concurrent.Semaphore(64);

  /** The worker's progress bus, on which each generation's end is told. */
  final InProcessProgressBus progress;

  /** The workers on a real Temporal server ({@link #onServer}); null in process. */
  private final WorkerFactory factory;

  /** The connection to a real Temporal server; null in process. */
  private final WorkflowServiceStubs service;

  /** Time spent inside the backend call, by generation id. */
  final Map<String, Long> backendNanos = new ConcurrentHashMap<>();

  /**
   * Every backend call's start and end (System.nanoTime), for how long the backend was occupied.
   */
  final java.util.Queue<long[]> backendCalls = new java.util.concurrent.ConcurrentLinkedQueue<>();

  /** When each generation's first backend call began (System.nanoTime), by generation id. */
  final Map<String, Long> backendStarted = new ConcurrentHashMap<>();

  /** Backend calls in progress now, and the most there ever were at once. */
  final AtomicInteger backendInFlight = new AtomicInteger();

  final AtomicInteger backendPeakInFlight = new AtomicInteger();

  BenchSystem() throws IOException {
    this(SLOTS);
  }

  /** The same with a host of {@code slots} slots (the embedded default has 2). */
  BenchSystem(int slots) throws IOException {
    this(slots, 0, null);
  }

  /**
   * A host of {@code slots} slots whose every backend call first holds for {@code holdMillis} (a
   * sleep, no CPU: a backend that takes that long and runs any number of calls side by side), so a
   * generation stays observably running; on the in-process test server.
   */
  static BenchSystem withBackendHold(int slots, long holdMillis) throws IOException {
    return new BenchSystem(slots, holdMillis, null);
  }

  /**
   * A host of {@code slots} slots on the real Temporal server at {@code target} ("host:port", e.g.
   * the Temporal CLI's dev server) instead of the in-process test server: the bench's workers and
   * client connect to it over gRPC.
   */
  static BenchSystem onServer(int slots, String target) throws IOException {
    return new BenchSystem(slots, 0, target, null);
  }

  /**
   * A host of {@code slots} slots whose generations run on the ComfyUI at {@code comfyUrl} (a real
   * one) instead of the testkit server; on the in-process test server.
   */
  static BenchSystem onComfyUi(int slots, java.net.URI comfyUrl) throws IOException {
    return new BenchSystem(slots, 0, null, comfyUrl);
  }

  private BenchSystem(int slots, long holdMillis, String target) throws IOException {
    this(slots, holdMillis, target, null);
  }

  private BenchSystem(int slots, long holdMillis, String target, java.net.URI comfyUrl)
      throws IOException {
    Path tmp = Files.createTempDirectory("tempera-bench");
    comfy =
        comfyUrl != null
            ? null
            : ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("comfyui")));
    client =
        new ComfyUiClient(
            comfyUrl != null ? comfyUrl : comfy.baseUrl(), ComfyUiClientOptions.defaults());
    WorkerFactory workers;
    // as the worker application runs: each generation's end is told on the progress bus
    progress = new InProcessProgressBus();
    io.temporal.worker.WorkerFactoryOptions factoryOptions =
        io.temporal.worker.WorkerFactoryOptions.newBuilder()
            .setWorkerInterceptors(new io.tempera.activities.GenerationEndsInterceptor(progress))
            // as the worker application sets it (WorkerConfiguration#virtualWorkflowThreads)
            .setUsingVirtualWorkflowThreads(true)
            .build();
    if (target == null) {
      // real time, as the embedded default runs (a time-skipping test server would jump an idle
      // system to the allocator's run timeout)
      env =
          TestWorkflowEnvironment.newInstance(
              io.temporal.testing.TestEnvironmentOptions.newBuilder()
                  .setUseTimeskipping(false)
                  .setWorkerFactoryOptions(factoryOptions)
                  .build());
      workflows = env.getWorkflowClient();
      workers = env.getWorkerFactory();
      service = null;
      factory = null;
    } else {
      env = null;
      service =
          WorkflowServiceStubs.newServiceStubs(
              WorkflowServiceStubsOptions.newBuilder().setTarget(target).build());
      workflows = WorkflowClient.newInstance(service);
      workers = WorkerFactory.newInstance(workflows, factoryOptions);
      factory = workers;
    }
    ObjectMapper json = new ObjectMapper();
    // what ships: the pool's slot allocator, one host with the default's slots, the host's own
    // queue
    // (-Dtempera.bench.allocator-max-history: a diagnosis only, e.g. without continue-as-new)
    AllocatorSettings shipped = AllocatorSettings.defaults();
    SlotAllocatorClient allocator =
        new SlotAllocatorClient(
            workflows,
            new AllocatorSettings(
                shipped.reclaimEverySeconds(),
                Integer.getInteger(
                    "tempera.bench.allocator-max-history", shipped.maxHistoryEvents()),
                shipped.hostTimeoutSeconds()));
    // as a worker host registers: its slots, and the default prefetch ready beyond them
    HostRegistration host =
        HostRegistration.of(
            HOST,
            List.of(new Gpu(0, 24_576)),
            slots,
            Integer.getInteger("tempera.bench.prefetch", HostRegistration.DEFAULT_PREFETCH));
    GenerationActivitySet.of(
            allocator,
            templates(json),
            new TemplateTranslator(json),
            new BackendRegistry(
                List.of(new TimedBackend(ComfyUiBackend.single(client), holdMillis, this))),
            new OutputStore(tmp.resolve("outputs")),
            progress,
            new SimpleMeterRegistry(),
            null,
            host,
            POOL,
            0)
        .register(
            workers,
            List.of("draft", "standard", "high", "ultra").stream()
                .map(GenerationWorkflow::taskQueueFor)
                .toList(),
            HostRegistration.taskQueueFor(HOST));
    GenerationActivitySet.registerAllocator(workers, workflows, progress);
    if (env != null) {
      env.start();
    } else {
      workers.start();
    }
    allocator.registerHost(POOL, host);
  }

  /** The bench's functions; a setup that cannot load them fails (it must never measure nothing). */
  private static TemplateRegistry templates(ObjectMapper json) {
    TemplateRegistry registry = new TemplateRegistry(Path.of("bench/templates"), json, 60_000);
    if (registry.find("instant").isEmpty() || !registry.problems().isEmpty()) {
      throw new IllegalStateException(
          "the bench templates did not load (run from the repository root): "
              + registry.problems());
    }
    return registry;
  }

  private static final String HOST = "bench-host";
  private static final String POOL = "default";

  /**
   * Generations the bench host runs at once (the in-flight count of the benchmarks stays below it).
   */
  static final int SLOTS = 64;

  /**
   * Runs a generation as the API follows one: started, then its end learnt from the progress bus
   * (the worker's notice), and only then read from Temporal; no long poll on the server while it
   * waits.
   */
  GenerationResult runFollowingTheBus(String id, String tier, int color) throws Exception {
    String workflowId = "gen-" + id;
    java.util.concurrent.CompletableFuture<Void> ended =
        new java.util.concurrent.CompletableFuture<>();
    try (AutoCloseable subscription =
        progress.subscribe(
            workflowId,
            event -> {
              if (io.tempera.progress.ProgressEvent.ENDED.equals(event.type())) {
                ended.complete(null);
              }
            })) {
      GenerationWorkflow workflow =
          workflows.newWorkflowStub(
              GenerationWorkflow.class,
              WorkflowOptions.newBuilder()
                  .setTaskQueue(GenerationWorkflow.taskQueueFor(tier))
                  .setWorkflowId(workflowId)
                  .build());
      starting.acquire();
      try {
        WorkflowClient.start(
            workflow::run,
            new GenerationRequest(
                "instant", tier, Map.of("color", color % 16_777_215), "bench", "node", null));
      } finally {
        starting.release();
      }
      ended.get(10, java.util.concurrent.TimeUnit.MINUTES);
    }
    try {
      return workflows
          .newUntypedWorkflowStub(workflowId)
          .getResult(10, java.util.concurrent.TimeUnit.SECONDS, GenerationResult.class);
    } catch (WorkflowFailedException failed) {
      return GenerationEnds.of(workflowId, failed);
    }
  }

  /** The id of the pool allocator's current run. */
  String allocatorRunId() {
    return workflows
        .newUntypedWorkflowStub(io.tempera.slots.SlotAllocatorWorkflow.idFor(POOL))
        .describe()
        .getExecution()
        .getRunId();
  }

  /** How many generations wait in the pool's line, from the allocator's state. */
  int allocatorWaiters() {
    return workflows
        .newWorkflowStub(
            io.tempera.slots.SlotAllocatorWorkflow.class,
            io.tempera.slots.SlotAllocatorWorkflow.idFor(POOL))
        .state()
        .waiters()
        .size();
  }

  /** One generation's time end to end and inside its backend calls, as its caller waited for it. */
  record Timed(long totalNanos, long backendNanos) {
    double totalMs() {
      return totalNanos / 1e6;
    }

    double backendMs() {
      return backendNanos / 1e6;
    }

    double overheadMs() {
      return (totalNanos - backendNanos) / 1e6;
    }
  }

  /** Runs one generation to its end, timed; fails when it did not succeed. */
  Timed runSucceeded(String id, String tier, int color) {
    return runSucceeded(id, tier, "instant", Map.of("color", color % 16_777_215));
  }

  /** Runs one generation of {@code functionId} to its end, timed; fails when it did not succeed. */
  Timed runSucceeded(String id, String tier, String functionId, Map<String, Object> parameters) {
    long start = System.nanoTime();
    GenerationResult result = run(id, tier, functionId, parameters);
    long total = System.nanoTime() - start;
    if (result.status() != io.tempera.generation.GenerationStatus.SUCCEEDED) {
      throw new IllegalStateException(
          "generation " + id + " ended " + result.status() + ": " + result.error());
    }
    return new Timed(total, backendNanos.getOrDefault("gen-" + id, 0L));
  }

  GenerationResult run(String id, String tier, int color) {
    return run(id, tier, "instant", Map.of("color", color % 16_777_215));
  }

  /** Runs one generation of {@code functionId} to its end. */
  GenerationResult run(String id, String tier, String functionId, Map<String, Object> parameters) {
    GenerationWorkflow workflow =
        workflows.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.taskQueueFor(tier))
                .setWorkflowId("gen-" + id)
                .build());
    try {
      return workflow.run(
          new GenerationRequest(functionId, tier, parameters, "bench", "node", null));
    } catch (WorkflowFailedException failed) {
      return GenerationEnds.of("gen-" + id, failed);
    }
  }

  static double percentile(List<Double> values, int p) {
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }

  /** What every result says it was: when, on which machine, at which commit. */
  static String provenance() {
    return String.format(
        Locale.ROOT,
        "date: %s%nmachine: %d cores, JDK %s%ncommit: %s%n",
        java.time.Instant.now(),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"),
        commit());
  }

  /** The commit the benchmark ran at ("-dirty" with uncommitted changes), or "unknown". */
  static String commit() {
    try {
      String head = git("rev-parse", "--short", "HEAD");
      return head.isEmpty()
          ? "unknown"
          : head + (git("status", "--porcelain").isEmpty() ? "" : "-dirty");
    } catch (IOException | InterruptedException e) {
      return "unknown";
    }
  }

  private static String git(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("git"));
    command.addAll(List.of(args));
    Process git = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out =
        new String(git.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
            .strip();
    return git.waitFor() == 0 ? out : "";
  }

  /** A benchmark's body: it either writes its result, or its result file says FAILED and why. */
  interface Body {
    void run() throws Exception;
  }

  /**
   * Runs {@code body}; when its setup or run fails, writes {@code file} as FAILED with the reason
   * (never a figure or "met") and exits non-zero.
   */
  static void reportingFailure(String file, String title, Body body) throws IOException {
    try {
      body.run();
    } catch (Exception | AssertionError e) {
      e.printStackTrace();
      write(file, "# " + title + "\n" + provenance() + "\nresult: FAILED — " + e + "\n");
      System.exit(1);
    }
  }

  static void write(String file, String report) throws IOException {
    if (!report.contains("\ncommit: ")) {
      // the result says at which commit it was measured
      report = report.replaceFirst("(?m)^(machine: .*)$", "$1\ncommit: " + commit());
    }
    System.out.println(report);
    // ./tempera test runs the benches' quick modes with their results elsewhere (not the record)
    Path results = Path.of(System.getProperty("tempera.bench.results", "bench/results"));
    Files.createDirectories(results);
    Files.writeString(results.resolve(file), report);
    System.out.println("written to " + results.resolve(file));
  }

  @Override
  public void close() {
    if (env != null) {
      env.close();
    } else {
      factory.shutdownNow();
      factory.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
      service.shutdownNow();
    }
    // the JDK's HttpClient.close() waits for every exchange still open: after a bench cancelled
    // generations, one may never end (seen in DeepQueueBench: the close hung for 15 min); waited
    // for 10 s, then the bench goes on (the client's threads are daemons)
    Thread closing = Thread.ofPlatform().daemon().start(client::close);
    try {
      closing.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (comfy != null) {
      comfy.close();
    }
  }

  /**
   * The time within [from, to] during which at least one backend call was in progress (the union of
   * the calls' intervals), in nanoseconds.
   */
  long backendOccupiedNanos(long from, long to) {
    return occupied(backendCalls, from, to);
  }

  /** The time within [from, to] during which at least one of {@code calls} was in progress. */
  static long occupied(java.util.Collection<long[]> calls, long from, long to) {
    List<long[]> sorted =
        calls.stream()
            .map(c -> new long[] {Math.max(c[0], from), Math.min(c[1], to)})
            .filter(c -> c[1] > c[0])
            .sorted(java.util.Comparator.comparingLong(c -> c[0]))
            .toList();
    long total = 0;
    long start = -1;
    long end = -1;
    for (long[] c : sorted) {
      if (c[0] > end) {
        total += end - start;
        start = c[0];
        end = c[1];
      } else {
        end = Math.max(end, c[1]);
      }
    }
    return total + (end - start);
  }

  /**
   * Measures how long each backend run takes, by generation, when each began and how many run at
   * once; holds each call {@code holdMillis} first when asked to.
   */
  private record TimedBackend(Backend delegate, long holdMillis, BenchSystem bench)
      implements Backend {
    @Override
    public String type() {
      return delegate.type();
    }

    @Override
    public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
      long start = System.nanoTime();
      bench.backendStarted.putIfAbsent(job.generationId(), start);
      bench.backendPeakInFlight.accumulateAndGet(
          bench.backendInFlight.incrementAndGet(), Math::max);
      try {
        if (holdMillis > 0) {
          try {
            Thread.sleep(holdMillis);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return delegate.run(job, projectDir, progress);
      } finally {
        long end = System.nanoTime();
        bench.backendInFlight.decrementAndGet();
        bench.backendNanos.merge(job.generationId(), end - start, Long::sum);
        bench.backendCalls.add(new long[] {start, end});
      }
    }

    @Override
    public void cancel(BackendJob job) {
      delegate.cancel(job);
    }

    @Override
    public long download(BackendFile file, Path target) {
      return delegate.download(file, target);
    }
  }
}
