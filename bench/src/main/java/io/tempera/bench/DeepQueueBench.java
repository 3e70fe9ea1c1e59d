package io.tempera.bench;

import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.progress.ProgressEvent;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.slots.Waiter;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowFailedException;
import io.temporal.client.WorkflowOptions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * #18's deep queue: many generations queued at once on one host of 2 slots (the embedded default)
 * with an instant backend (the testkit ComfyUI's instant graph), from two projects — a flood, then
 * a trickle of 1 % — and half of them cancelled while they wait. Measures how fast they are
 * submitted and drained, the process's peak heap and RSS, the trickle's wait in turns (grants
 * between its submission and its own) against its fair share, how long the cancelled take to leave
 * the allocator's line and the allocator events per cancel, how far the published waits were from
 * the real ones, and how many generations were lost (neither succeeded nor cancelled; must be 0).
 * One in a hundred of the flood is followed by nobody (its client gone): its end is read from
 * Temporal afterwards, as a list or a webhook would find it.
 *
 * <p>The baseline, in the same run on a fresh system: the same generations with the trickle in the
 * flood's project (served in arrival order, as before fair share) and nothing cancelled.
 *
 * <p>Args: [generations, default 10000]
 */
public final class DeepQueueBench {

  private static final String FILE = "deep-queue.md";

  public static void main(String[] args) throws Exception {
    BenchSystem.reportingFailure(FILE, "Deep queue", () -> run(args));
  }

  static void run(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    // a first, smaller pass warms the JVM (its figures are discarded): neither measured pass runs
    // on a cold one
    measure(Math.min(count / 2, 200), true);
    Result fair = measure(count, true);
    Result arrival = measure(count, false);
    int trickle = trickleOf(count);
    int cancelTarget = count / 2;
    boolean lostNone = fair.lost == 0 && arrival.lost == 0;
    boolean cancelledNeverRan = fair.cancelledThatRan == 0;
    // its half of the grants from when it joined the line, plus the 3 leases the flood held then
    // (2 running, 1 ready on the host) and the 3 it may be granted while the trickle's lease waits
    // for a free slot on the host
    boolean fairMet =
        fair.trickleMaxTurnsInLine >= 0 && fair.trickleMaxTurnsInLine <= 2 * trickle + 6;
    BenchSystem.write(
        FILE,
        "# Deep queue — "
            + count
            + " queued on one host of 2 slots, a flood and a trickle, half cancelled\n"
            + BenchSystem.provenance()
            + String.format(
                Locale.ROOT,
                "setup: in-process Temporal test server on real time, the slot allocator as shipped,"
                    + " one host of 2 slots (+1 prefetch), testkit ComfyUI (instant graph). Project"
                    + " `flood` submits %d generations at once (at most 64 start calls in flight, as"
                    + " an API's request threads), then project `trickle` %d; each is followed on"
                    + " the progress bus as the API follows one, but for 1 in 100 of the flood"
                    + " (nobody follows: the client is gone; its end is read from Temporal"
                    + " afterwards). Once all wait, %d of the flood's waiters (every other one in"
                    + " line) are cancelled. Baseline, the same run on a fresh system: the trickle"
                    + " in the flood's project (arrival order, as before fair share), nothing"
                    + " cancelled. Max heap %d MB for the whole process (server, workers, testkit,"
                    + " callers).%n%n",
                count - trickle,
                trickle,
                cancelTarget,
                Runtime.getRuntime().maxMemory() / (1024 * 1024))
            + "| figure | fair share, half cancelled | baseline: arrival order, none cancelled |\n"
            + "|---|---|---|\n"
            + row("generations", fair.count + "", arrival.count + "")
            + row(
                "submit rate (the flood's start calls)",
                perSecond(fair.count - trickle, fair.submitSeconds),
                perSecond(arrival.count - trickle, arrival.submitSeconds))
            + row(
                "the flood all in the allocator's line after",
                seconds(fair.allInLineSeconds),
                seconds(arrival.allInLineSeconds))
            + row(
                "longest line the allocator held", fair.longestLine + "", arrival.longestLine + "")
            + row(
                "drain rate (ends per minute, first to last)",
                perMinute(fair.drained, fair.drainSeconds),
                perMinute(arrival.drained, arrival.drainSeconds))
            + row("all ended after", seconds(fair.totalSeconds), seconds(arrival.totalSeconds))
            + row("peak heap used", fair.peakHeapMb + " MB", arrival.peakHeapMb + " MB")
            + row("peak RSS", fair.peakRssMb + " MB", arrival.peakRssMb + " MB")
            + row(
                "trickle wait, turns (grants between its submission and its own): p50 / p95 / max",
                turns(fair.trickleTurns),
                turns(arrival.trickleTurns))
            + row(
                "the same from when it joined the allocator's line",
                turns(fair.trickleTurnsInLine),
                turns(arrival.trickleTurnsInLine))
            + row(
                "the trickle's fair share at 1:1 (half the grants: its k-th in 2k turns)",
                "last in " + 2 * trickle + " turns",
                "— (one project)")
            + row(
                "the allocator's mean lease when the flood was in line (its estimate: a place waits"
                    + " this over 3 leases: 2 slots + 1 prefetch)",
                String.format(Locale.ROOT, "%.0f ms", fair.meanLeaseMillis),
                String.format(Locale.ROOT, "%.0f ms", arrival.meanLeaseMillis))
            + row(
                "real time per grant while draining (drain span ÷ ends)",
                String.format(
                    Locale.ROOT, "%.0f ms", 1000 * fair.drainSeconds / Math.max(1, fair.drained)),
                String.format(
                    Locale.ROOT,
                    "%.0f ms",
                    1000 * arrival.drainSeconds / Math.max(1, arrival.drained)))
            + row(
                "flood grants while the trickle waited",
                fair.floodGrantsDuringTrickle + "",
                arrival.floodGrantsDuringTrickle + "")
            + row(
                "cancelled (of the flood's waiters)",
                fair.cancelled + " (of " + fair.lineAtCancel + " in line)",
                "none")
            + row(
                "cancel calls took",
                seconds(fair.cancelCallsSeconds)
                    + " ("
                    + perSecond(fair.cancelled, fair.cancelCallsSeconds)
                    + ")",
                "—")
            + row(
                "until their places were free (first cancel → none of them in the allocator's line)",
                seconds(fair.freedSeconds),
                String.format(
                    Locale.ROOT,
                    "%s to run as many at the baseline's drain rate",
                    seconds(
                        fair.cancelled / Math.max(1e-9, arrival.drained / arrival.drainSeconds))))
            + row(
                "allocator events per cancel (while they left)",
                String.format(Locale.ROOT, "%.2f", fair.eventsPerCancel),
                "—")
            + row(
                "cancelled ones that reached the backend after their cancel: granted after it"
                    + " (granted before it reached them: they had left the line, their run was"
                    + " stopped)",
                fair.cancelledThatRan + " (" + fair.grantedBeforeCancel + ")",
                "—")
            + row(
                "allocator history events per generation (every run replayed)",
                String.format(Locale.ROOT, "%.1f", fair.eventsPerGeneration),
                String.format(Locale.ROOT, "%.1f", arrival.eventsPerGeneration))
            + row(
                "published wait vs real wait (first estimate each waiter got): median / p90 of"
                    + " |error| ÷ real wait (waiters that waited ≥ 5 s)",
                accuracy(fair.etaErrors),
                accuracy(arrival.etaErrors))
            + row(
                "the same for every wait told (one kept per waiter per 10 s)",
                accuracy(fair.etaErrorsSampled),
                accuracy(arrival.etaErrorsSampled))
            + row(
                "followed by nobody (client gone): ended as expected",
                fair.unfollowedOk + " of " + fair.unfollowed,
                arrival.unfollowedOk + " of " + arrival.unfollowed)
            + row(
                "lost (neither succeeded nor cancelled as asked)",
                fair.lost + "",
                arrival.lost + "")
            + String.format(
                Locale.ROOT,
                "%ntargets (#18):%n"
                    + "- %d queued generations within bounded memory (%d MB heap): %s%n"
                    + "- their order and fairness: the trickle's last within its fair share from"
                    + " joining the line, %d turns (+6: the flood's leases on the host): %s%n"
                    + "- cancelling %d frees their places at once: %s after the first cancel (the"
                    + " cancel calls themselves took %s); none of them granted, so none reached"
                    + " the backend, once its cancel reached it: %s%n"
                    + "- lost: %d (must be 0): %s%n",
                count,
                Runtime.getRuntime().maxMemory() / (1024 * 1024),
                lostNone ? "met (no OutOfMemoryError, every one ended)" : "NOT met",
                2 * trickle,
                fairMet ? "met" : "NOT met",
                fair.cancelled,
                seconds(fair.freedSeconds),
                seconds(fair.cancelCallsSeconds),
                cancelledNeverRan ? "met" : "NOT met (" + fair.cancelledThatRan + ")",
                fair.lost + arrival.lost,
                lostNone ? "met" : "NOT met"));
  }

  private static int trickleOf(int count) {
    return Math.max(10, count / 100);
  }

  /** What one system measured. */
  static final class Result {
    int count;
    double submitSeconds;
    double allInLineSeconds;
    List<Double> etaErrorsSampled = new ArrayList<>();
    int longestLine;
    int succeeded;
    int drained;
    double drainSeconds;
    double totalSeconds;
    long peakHeapMb;
    long peakRssMb;
    List<Integer> trickleTurns = new ArrayList<>();
    List<Integer> trickleTurnsInLine = new ArrayList<>();
    double meanLeaseMillis;
    double perPlaceMillis;
    int trickleMaxTurns;
    int trickleMaxTurnsInLine;
    int floodGrantsDuringTrickle;
    int cancelled;
    int lineAtCancel;
    double cancelCallsSeconds;
    double freedSeconds;
    double eventsPerCancel;
    int cancelledThatRan;
    int grantedBeforeCancel;
    double eventsPerGeneration;
    List<Double> etaErrors = new ArrayList<>();
    int unfollowed;
    int unfollowedOk;
    int lost;
  }

  /** A wait a waiter was told: when, and how many seconds. */
  private record Told(long atMillis, int waitSeconds) {}

  /** The waits each waiter was told, one kept per 10 s (the first always). */
  private static final Map<String, List<Told>> SAMPLED = new ConcurrentHashMap<>();

  /** When each followed generation was first told it waits in line (System.nanoTime). */
  private static final Map<String, Long> JOINED = new ConcurrentHashMap<>();

  private static Result measure(int count, boolean fairAndCancel) throws Exception {
    Result r = new Result();
    r.count = count;
    int trickle = trickleOf(count);
    int flood = count - trickle;
    try (BenchSystem system = new BenchSystem(2)) {
      for (int i = 0; i < 4; i++) {
        system.run("warmup-" + i, "standard", i);
      }
      String firstRunId = system.allocatorRunId();
      long eventsBefore = events(system, firstRunId, false);
      // wall clock of System.nanoTime() 0, to compare the backend's start with published waits
      long nanoToMillis = System.currentTimeMillis() - System.nanoTime() / 1_000_000;
      QueueDepthBench.Resources resources = QueueDepthBench.Resources.sample();
      Map<String, Long> submitted = new ConcurrentHashMap<>();
      Map<String, Long> ended = new ConcurrentHashMap<>();
      Map<String, Told> told = new ConcurrentHashMap<>();
      List<AutoCloseable> follows = java.util.Collections.synchronizedList(new ArrayList<>());
      List<String> floodIds = new ArrayList<>();
      List<String> trickleIds = new ArrayList<>();
      Set<String> unfollowed = new HashSet<>();
      for (int i = 0; i < flood; i++) {
        String id = "gen-flood-" + i;
        floodIds.add(id);
        if (i % 100 == 50) {
          unfollowed.add(id);
        }
      }
      for (int i = 0; i < trickle; i++) {
        trickleIds.add("gen-trickle-" + i);
      }
      ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor();
      Semaphore inFlight = new Semaphore(64);
      long start = System.nanoTime();
      List<Future<?>> starts = new ArrayList<>();
      for (String id : floodIds) {
        starts.add(
            callers.submit(() -> {
              start(
                  system,
                  inFlight,
                  id,
                  "flood",
                  unfollowed.contains(id),
                  submitted,
                  ended,
                  told,
                  follows);
              return null;
            }));
      }
      for (Future<?> f : starts) {
        f.get();
      }
      r.submitSeconds = (System.nanoTime() - start) / 1e9;
      // the flood all in line (or held, or done): the line at its deepest
      List<Waiter> line = waitUntilAllIn(system, flood);
      r.allInLineSeconds = (System.nanoTime() - start) / 1e9;
      r.longestLine = line.size();
      var usage =
          system
              .workflows
              .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor("default"))
              .usage(List.of());
      r.meanLeaseMillis = usage.meanLeaseMillis();
      // then the trickle arrives behind it
      starts.clear();
      for (String id : trickleIds) {
        starts.add(
            callers.submit(() -> {
              start(
                  system,
                  inFlight,
                  id,
                  fairAndCancel ? "trickle" : "flood",
                  false,
                  submitted,
                  ended,
                  told,
                  follows);
              return null;
            }));
      }
      for (Future<?> f : starts) {
        f.get();
      }
      line = waitUntilAllIn(system, count);
      if (Boolean.getBoolean("tempera.bench.deep-queue.debug")) {
        List<String> holders = line.stream().map(w -> w.request().holder()).toList();
        for (String id : trickleIds) {
          System.out.println("DEBUG " + id + " at place " + (holders.indexOf(id) + 1));
        }
      }

      if (fairAndCancel) {
        List<String> floodWaiting =
            line.stream()
                .map(w -> w.request().holder())
                .filter(h -> h.startsWith("gen-flood-"))
                .toList();
        // every other one in line first, then the rest from the back, up to half of all
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < floodWaiting.size(); i += 2) order.add(i);
        for (int i = floodWaiting.size() - 1 - (floodWaiting.size() % 2 == 0 ? 0 : 1);
            i > 0;
            i -= 2) {
          order.add(i);
        }
        int k = Math.min(count / 2, floodWaiting.size());
        List<String> cancel = order.subList(0, k).stream().map(floodWaiting::get).toList();
        r.lineAtCancel = line.size();
        r.cancelled = cancel.size();
        Set<String> cancelSet = new HashSet<>(cancel);
        long runBeforeCancel = events(system, firstRunId, false);
        Map<String, Long> cancelledAt = new ConcurrentHashMap<>();
        long cancelStart = System.nanoTime();
        List<Future<?>> cancels = new ArrayList<>();
        for (String id : cancel) {
          cancels.add(
              callers.submit(() -> {
                inFlight.acquire();
                try {
                  cancelledAt.put(id, System.nanoTime());
                  system.workflows.newUntypedWorkflowStub(id).cancel();
                } finally {
                  inFlight.release();
                }
                return null;
              }));
        }
        for (Future<?> f : cancels) {
          f.get();
        }
        r.cancelCallsSeconds = (System.nanoTime() - cancelStart) / 1e9;
        while (!stillHeld(system, cancel).isEmpty()) {
          Thread.sleep(100);
        }
        r.freedSeconds = (System.nanoTime() - cancelStart) / 1e9;
        long eventsAfter = events(system, firstRunId, false);
        r.eventsPerCancel = (eventsAfter - runBeforeCancel) / (double) r.cancelled;
        for (String id : cancel) {
          Long ran = system.backendStarted.get(id);
          if (ran != null && ran > cancelledAt.get(id)) {
            // the line was read before the cancels were sent: one granted meanwhile had left it
            // when its cancel came (its history has the grant before the cancel request)
            if (grantedBeforeItsCancel(system, id)) {
              r.grantedBeforeCancel++;
            } else {
              r.cancelledThatRan++;
            }
          }
        }
        waitForEnds(system, count, ended, unfollowed);
        r.lost = lost(system, callers, inFlight, floodIds, trickleIds, cancelSet, r);
      } else {
        waitForEnds(system, count, ended, unfollowed);
        r.lost = lost(system, callers, inFlight, floodIds, trickleIds, Set.of(), r);
      }
      r.totalSeconds = (System.nanoTime() - start) / 1e9;
      resources.stop();
      r.peakHeapMb = resources.peakHeapMb();
      r.peakRssMb = resources.peakRssMb();
      for (AutoCloseable follow : follows) {
        follow.close();
      }
      callers.shutdown();

      // drain: the first end to the last
      List<Long> ends = new ArrayList<>();
      for (String id : submitted.keySet()) {
        Long at = ended.get(id);
        if (at != null && system.backendStarted.containsKey(id)) {
          ends.add(at);
        }
      }
      ends.sort(Comparator.naturalOrder());
      r.drained = ends.size();
      r.drainSeconds = ends.size() < 2 ? 0 : (ends.get(ends.size() - 1) - ends.get(0)) / 1e9;

      // the trickle's turns: grants (first backend starts) between its submission and its own
      List<Long> grants = new ArrayList<>(system.backendStarted.values());
      grants.sort(Comparator.naturalOrder());
      long firstTrickleSubmit = Long.MAX_VALUE;
      long lastTrickleStart = 0;
      for (String id : trickleIds) {
        Long from = submitted.get(id);
        Long to = system.backendStarted.get(id);
        if (from == null || to == null) {
          continue;
        }
        firstTrickleSubmit = Math.min(firstTrickleSubmit, from);
        lastTrickleStart = Math.max(lastTrickleStart, to);
        r.trickleTurns.add(countBetween(grants, from, to));
        Long joined = JOINED.get(id);
        if (Boolean.getBoolean("tempera.bench.deep-queue.debug")) {
          System.out.println(
              "DEBUG "
                  + id
                  + " turns "
                  + countBetween(grants, from, to)
                  + " joined "
                  + (joined == null ? "?" : countBetween(grants, joined, to)));
        }
        if (joined != null) {
          r.trickleTurnsInLine.add(countBetween(grants, joined, to));
        }
      }
      r.trickleTurnsInLine.sort(Comparator.naturalOrder());
      r.trickleTurns.sort(Comparator.naturalOrder());
      r.trickleMaxTurns = r.trickleTurns.isEmpty() ? -1 : r.trickleTurns.getLast();
      r.trickleMaxTurnsInLine =
          r.trickleTurnsInLine.isEmpty() ? -1 : r.trickleTurnsInLine.getLast();
      for (String id : floodIds) {
        Long at = system.backendStarted.get(id);
        if (at != null && at >= firstTrickleSubmit && at < lastTrickleStart) {
          r.floodGrantsDuringTrickle++;
        }
      }

      // the first published wait against the real one
      for (Map.Entry<String, Told> e : told.entrySet()) {
        Long ran = system.backendStarted.get(e.getKey());
        if (ran == null) {
          continue;
        }
        double real = (ran / 1_000_000 + nanoToMillis - e.getValue().atMillis()) / 1000.0;
        if (real >= 5) {
          r.etaErrors.add(Math.abs(e.getValue().waitSeconds() - real) / real);
        }
      }
      for (Map.Entry<String, List<Told>> e : SAMPLED.entrySet()) {
        Long ran = system.backendStarted.get(e.getKey());
        if (ran == null) {
          continue;
        }
        for (Told t : e.getValue()) {
          double real = (ran / 1_000_000 + nanoToMillis - t.atMillis()) / 1000.0;
          if (real >= 5) {
            r.etaErrorsSampled.add(Math.abs(t.waitSeconds() - real) / real);
          }
        }
      }
      SAMPLED.clear();
      JOINED.clear();
      r.eventsPerGeneration = (events(system, firstRunId, true) - eventsBefore) / (double) count;
    }
    return r;
  }

  private static void start(
      BenchSystem system,
      Semaphore inFlight,
      String id,
      String project,
      boolean nobodyFollows,
      Map<String, Long> submitted,
      Map<String, Long> ended,
      Map<String, Told> told,
      List<AutoCloseable> follows)
      throws InterruptedException {
    if (!nobodyFollows) {
      follows.add(
          system.progress.subscribe(
              id,
              event -> {
                if (ProgressEvent.ENDED.equals(event.type())) {
                  ended.putIfAbsent(id, System.nanoTime());
                } else if (ProgressEvent.WAITING_FOR_SLOT.equals(event.waitingFor())) {
                  JOINED.putIfAbsent(id, System.nanoTime());
                  if (event.startsInSeconds() == null) {
                    return;
                  }
                  Told now = new Told(event.timestampMillis(), event.startsInSeconds());
                  told.putIfAbsent(id, now);
                  List<Told> kept =
                      SAMPLED.computeIfAbsent(
                          id, k -> java.util.Collections.synchronizedList(new ArrayList<>()));
                  synchronized (kept) {
                    if (kept.isEmpty() || now.atMillis() - kept.getLast().atMillis() >= 10_000) {
                      kept.add(now);
                    }
                  }
                }
              }));
    }
    GenerationWorkflow workflow =
        system.workflows.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(GenerationWorkflow.taskQueueFor("standard"))
                .setWorkflowId(id)
                .build());
    inFlight.acquire();
    try {
      WorkflowClient.start(
          workflow::run,
          new GenerationRequest(
              "instant",
              "standard",
              Map.of("color", Math.abs(id.hashCode()) % 16_777_215),
              project,
              "node",
              null));
      submitted.put(id, System.nanoTime());
    } finally {
      inFlight.release();
    }
  }

  /** Waits until each generation is in line, held or ended; the line then. */
  private static List<Waiter> waitUntilAllIn(BenchSystem system, int count)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (System.nanoTime() < deadline) {
      List<Waiter> line = waiters(system);
      if (line != null
          && line.size() + system.backendStarted.size() - 4 + 3 >= count) { // 4 warm-ups, 3 held
        return line;
      }
      Thread.sleep(500);
    }
    throw new IllegalStateException("the generations did not all reach the allocator in 10 min");
  }

  /**
   * Which of {@code holders} the allocator still has in line or holding a lease (its small usage
   * query: the line is not copied); all of them when the query does not answer.
   */
  private static List<String> stillHeld(BenchSystem system, List<String> holders) {
    try {
      return system
          .workflows
          .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor("default"))
          .usage(holders)
          .known();
    } catch (RuntimeException busy) {
      return holders;
    }
  }

  private static List<Waiter> waiters(BenchSystem system) {
    try {
      return system
          .workflows
          .newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor("default"))
          .state()
          .waiters();
    } catch (RuntimeException busy) {
      return null; // a query that times out under load is only a missed sample
    }
  }

  /** Waits until every followed generation told its end and the line is empty. */
  private static void waitForEnds(
      BenchSystem system, int count, Map<String, Long> ended, Set<String> unfollowed)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
    while (System.nanoTime() < deadline) {
      List<Waiter> line = waiters(system);
      if (ended.size() >= count - unfollowed.size() && line != null && line.isEmpty()) {
        return;
      }
      Thread.sleep(1000);
    }
    throw new IllegalStateException(
        "not every generation ended within 30 min (" + ended.size() + " told their end)");
  }

  /**
   * Reads every generation's end from Temporal: the lost are those neither succeeded nor (asked to
   * be) cancelled; counts the unfollowed that ended as expected.
   */
  private static int lost(
      BenchSystem system,
      ExecutorService callers,
      Semaphore inFlight,
      List<String> floodIds,
      List<String> trickleIds,
      Set<String> cancelled,
      Result r)
      throws Exception {
    List<String> all = new ArrayList<>(floodIds);
    all.addAll(trickleIds);
    Map<String, GenerationStatus> statuses = new ConcurrentHashMap<>();
    List<Future<?>> reads = new ArrayList<>();
    for (String id : all) {
      reads.add(
          callers.submit(() -> {
            inFlight.acquire();
            try {
              GenerationResult result;
              try {
                result =
                    system
                        .workflows
                        .newUntypedWorkflowStub(id)
                        .getResult(30, TimeUnit.SECONDS, GenerationResult.class);
              } catch (WorkflowFailedException failed) {
                result = GenerationEnds.of(id, failed);
              }
              statuses.put(id, result.status());
            } catch (RuntimeException unreadable) {
              // counted lost below
            } finally {
              inFlight.release();
            }
            return null;
          }));
    }
    for (Future<?> f : reads) {
      f.get();
    }
    int lost = 0;
    int succeeded = 0;
    for (String id : all) {
      GenerationStatus status = statuses.get(id);
      boolean ok =
          status == GenerationStatus.SUCCEEDED
              || (cancelled.contains(id) && status == GenerationStatus.CANCELLED);
      if (!ok) {
        lost++;
      }
      if (status == GenerationStatus.SUCCEEDED) {
        succeeded++;
      }
      if (id.startsWith("gen-flood-") && Integer.parseInt(id.substring(10)) % 100 == 50) {
        r.unfollowed++;
        if (ok) {
          r.unfollowedOk++;
        }
      }
    }
    r.succeeded = succeeded;
    return lost;
  }

  private static int countBetween(List<Long> sorted, long from, long to) {
    int n = 0;
    for (long t : sorted) {
      if (t >= from && t < to) {
        n++;
      }
    }
    return n;
  }

  /**
   * Whether the generation's history has its slot granted (the allocator's signal) before its
   * cancel request: it had left the line when its cancel came.
   */
  private static boolean grantedBeforeItsCancel(BenchSystem system, String id) {
    Long granted = null;
    Long cancelRequested = null;
    for (var event : system.workflows.fetchHistory(id).getEvents()) {
      if (granted == null
          && event.hasWorkflowExecutionSignaledEventAttributes()
          && "slotGranted"
              .equals(event.getWorkflowExecutionSignaledEventAttributes().getSignalName())) {
        granted = event.getEventId();
      }
      if (cancelRequested == null && event.hasWorkflowExecutionCancelRequestedEventAttributes()) {
        cancelRequested = event.getEventId();
      }
    }
    return granted != null && (cancelRequested == null || granted < cancelRequested);
  }

  /** The allocator's history events from {@code runId} on, every run replayed when asked. */
  private static long events(BenchSystem system, String runId, boolean replay) {
    if (replay) {
      return QueueDepthBench.allocatorEvents(system, runId);
    }
    return QueueDepthBench.allocatorRuns(system, runId).stream()
        .mapToLong(h -> h.getEvents().size())
        .sum();
  }

  private static String row(String figure, String fair, String baseline) {
    return "| " + figure + " | " + fair + " | " + baseline + " |\n";
  }

  private static String perSecond(int n, double seconds) {
    return String.format(Locale.ROOT, "%.0f/s (%d in %.1f s)", n / seconds, n, seconds);
  }

  private static String perMinute(int n, double seconds) {
    return String.format(Locale.ROOT, "%.0f/min (%d in %.1f s)", n / seconds * 60, n, seconds);
  }

  private static String seconds(double s) {
    return String.format(Locale.ROOT, "%.1f s", s);
  }

  private static String turns(List<Integer> turns) {
    if (turns.isEmpty()) {
      return "none ran";
    }
    List<Double> t = turns.stream().map(Integer::doubleValue).toList();
    return String.format(
        Locale.ROOT,
        "%.0f / %.0f / %d",
        BenchSystem.percentile(t, 50),
        BenchSystem.percentile(t, 95),
        turns.getLast());
  }

  private static String accuracy(List<Double> errors) {
    if (errors.isEmpty()) {
      return "no waiter waited 5 s after its first estimate";
    }
    return String.format(
        Locale.ROOT,
        "%.0f %% / %.0f %% (%d waiters)",
        100 * BenchSystem.percentile(errors, 50),
        100 * BenchSystem.percentile(errors, 90),
        errors.size());
  }
}
