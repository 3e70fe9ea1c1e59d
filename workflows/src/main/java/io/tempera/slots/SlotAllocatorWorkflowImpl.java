package io.tempera.slots;

import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.failure.TimeoutFailure;
import io.temporal.workflow.Async;
import io.temporal.workflow.CancellationScope;
import io.temporal.workflow.Promise;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;

/**
 * One pool's slots. Handlers only change state; the main loop answers each lease request (an
 * Update: granted, or a place in the queue) once every handler of its workflow task has run, grants
 * to waiters in FIFO order and tells them by signal, publishes their places, reclaims leases of
 * closed holders on a timer that runs only while something is held, and continues as new once every
 * handler has finished. The loop never waits on a signal's delivery (since {@link
 * #ANSWERS_CHANGE}).
 *
 * <p>Host liveness (since {@link #HOST_LIVENESS_CHANGE}): each registered host heartbeats a watch
 * activity on its own task queue ({@link HostActivities#keepAlive}). A host whose watch times out
 * (no heartbeat within the pool's host timeout, or not picked up) is lost: it leaves placement, its
 * leases are revoked and their holders told to move. It comes back by registering again.
 *
 * <p>Priorities and fair share (since {@link #FAIR_SHARE_CHANGE}): the line is kept in the order it
 * is served in. Higher priority first (1 before 5; a waiter counts one priority higher for each
 * {@link AllocatorSettings#priorityAgingSeconds} it has waited, so none starves); within a
 * priority, weighted fair share between projects: the next place goes to the project holding the
 * fewest leases for its weight (leases held now, plus places already handed out ahead in the line),
 * ties to the longest waiting; within a project, arrival order. A flooding project still gets its
 * share: each freed slot goes to whoever is furthest below theirs.
 */
public class SlotAllocatorWorkflowImpl implements SlotAllocatorWorkflow {

  private static final Logger log = Workflow.getLogger(SlotAllocatorWorkflowImpl.class);

  private final SlotAllocatorActivities activities =
      Workflow.newActivityStub(
          SlotAllocatorActivities.class,
          ActivityOptions.newBuilder()
              .setSummary("Check which holders of leases closed")
              .setStartToCloseTimeout(Duration.ofSeconds(30))
              .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(3).build())
              .build());

  /** How often, at most, the waiters' places are published (since {@link #PLACES_CHANGE}). */
  static final Duration PUBLISH_PLACES_EVERY = Duration.ofSeconds(1);

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): waiters learn their places from the
   * progress bus at most once a second, instead of a signal to every waiter on every grant (O(N)
   * signals per grant, which collapsed throughput at depth).
   */
  static final String PLACES_CHANGE = "places-by-progress-bus";

  private final SlotAllocatorActivities local =
      Workflow.newLocalActivityStub(
          SlotAllocatorActivities.class,
          io.temporal.activity.LocalActivityOptions.newBuilder()
              .setStartToCloseTimeout(Duration.ofSeconds(5))
              .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(2).build())
              .build());

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): hosts are watched by heartbeat; a lost
   * host's leases are revoked and no lease goes to it until it registers again.
   */
  static final String HOST_LIVENESS_CHANGE = "host-liveness";

  /** How long one watch of a host runs before the next one starts. */
  static final Duration WATCH_EACH = Duration.ofMinutes(5);

  private boolean hostLiveness;
  private final Set<String> lost = new LinkedHashSet<>();
  private final Map<String, Long> watchEpochs = new HashMap<>();
  private final Map<String, CancellationScope> watches = new HashMap<>();
  private final Set<String> watchDue = new LinkedHashSet<>();
  private final Map<String, String> lostNow = new LinkedHashMap<>();

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0), two changes of the main loop:
   *
   * <ul>
   *   <li>A lease request (Update) is answered by the main loop once every handler of its workflow
   *       task has run, not by its handler at once. The handler's answer depended on whether a
   *       release signal of the same task had run before it, and a replay does not always hand them
   *       over in the order the run did: the in-process test server sends a task's Updates to the
   *       worker after the task's scheduled event, but records them after its started event, so a
   *       signal that came while the task waited for a worker runs after the Update live and before
   *       it on replay. The run queued the request (no room yet) and granted it by signal; the
   *       replay granted it at once and issued a timer instead; the next full replay failed as
   *       nondeterministic and the pool's allocator stalled for good.
   *   <li>The loop never waits: grants and rejections are signalled without waiting for their
   *       delivery (a holder found gone is released when its signal fails), the places are
   *       published and the holders checked in the background.
   * </ul>
   */
  static final String ANSWERS_CHANGE = "answers-by-main-loop";

  private boolean answersByLoop;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): an operator drains a host ({@link
   * #drain}); asked when the first such signal comes. A drained host gets no new lease, its leases
   * stay.
   */
  static final String DRAIN_CHANGE = "host-drain";

  private final Set<String> drained = new LinkedHashSet<>();

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): a host that names its tiers gets leases
   * only for generations of those tiers, and a waiter no host of its tier has room for no longer
   * holds up waiters of other tiers behind it (each tier keeps its own order). Asked the first time
   * a host's tiers exclude a request; null until then.
   */
  static final String TIER_PLACEMENT_CHANGE = "tier-placement";

  private Boolean tierPlacement;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): the line is ordered by priority, then by
   * weighted fair share between projects, then by arrival (see the class comment), instead of by
   * arrival alone. Asked the first time a request that names a project or priority waits; null
   * until then (a history without such requests has no marker).
   */
  static final String FAIR_SHARE_CHANGE = "priority-fair-share";

  private Boolean fairShare;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): the allocator counts each project's GPU
   * time (lease time) per clock hour and how long leases hold on average ({@link GpuTimeBook}),
   * kept across continue-as-new, for the API's quotas and the operators' usage. It only counts: no
   * command changes.
   */
  static final String GPU_TIME_CHANGE = "gpu-time";

  /** The GPU time book; null in a run of the code before {@link #GPU_TIME_CHANGE}. */
  private GpuTimeBook gpuTime;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): the places published carry each waiter's
   * estimated wait (its place in the line the allocator serves, times the measured mean lease
   * length, over the pool's slots) and its end (that plus one lease); a request that joins the line
   * is published too (before, only places that moved were), so a newcomer learns its wait within a
   * second.
   */
  static final String QUEUE_ETA_CHANGE = "queue-eta";

  private boolean etaByBus;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): once continuing as new is due, the run
   * hands over: a new lease request or give-back is refused by its validator (a refused Update
   * leaves no event in history) and the caller asks again, which reaches the next run; waiters are
   * granted by the next run, so only the signals already on their way are waited for; the line is
   * handed over packed ({@link AllocatorState#packed}). Before, a stream of requests that never
   * paused kept every run alive (each one is an event and a handler to finish first): a run due
   * after 100 events measured 1,871 under 8 callers, and one of the deep-queue benchmark's runs
   * 18,671.
   */
  static final String HAND_OVER_CHANGE = "hand-over";

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): in fair share, a tie (two projects holding
   * as many leases for their weight) goes to the project whose newest lease is older (then, as
   * before, to the longest waiting). Before, ties went to the longest waiting alone, so with an odd
   * number of leases (2 slots + 1 prefetch) a flood that came first won every tie: a project
   * arriving later held one lease of three and was granted a third of the turns, not half (the
   * deep-queue benchmark's trickle: 318 turns against a fair share of 206).
   */
  static final String FAIR_TIES_CHANGE = "fair-ties";

  private boolean fairTies;

  /**
   * {@code Workflow.getVersion} change id (after 0.1.0): a waiter's estimated wait is its place
   * times the measured time between grants while the line waited ({@link
   * GpuTimeBook#millisPerGrant}), not the mean lease over the slots: that one left out the time
   * from a give-back to the next grant and lagged behind changes of pace (the deep-queue
   * benchmark's first estimates were off by a median 670-1,161 %).
   */
  static final String GRANT_PACE_CHANGE = "grant-pace";

  private boolean grantPace;

  /**
   * What a refused request's failure says: the caller asks again. (The SDK retypes a validator's
   * failure, so the caller knows it by its message.)
   */
  public static final String HANDING_OVER =
      "the slot allocator is handing over to its next run; ask again";

  private boolean handOver;
  private boolean handingOver;

  private Promise<List<String>> reclaiming;
  private int signalsOnTheirWay;
  private Promise<Void> wakeTimer;
  private long wakeTimerAt;
  private final List<Ask> asks = new ArrayList<>();

  private boolean placesByBus;
  private boolean placesChanged;
  private long placesPublishedAt;

  private String pool;
  private AllocatorSettings settings;
  private final Map<String, HostRegistration> hosts = new LinkedHashMap<>();
  private final List<Lease> leases = new ArrayList<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private long seq;
  private boolean dirty;
  private boolean initialized;
  private long lastReclaimMillis;

  @Override
  public void run(AllocatorState state) {
    AllocatorState start =
        state == null ? AllocatorState.empty(poolFromId(), AllocatorSettings.defaults()) : state;
    pool = start.pool() == null ? poolFromId() : start.pool();
    settings = start.settings();
    start.hosts().forEach(h -> hosts.put(h.hostId(), h));
    leases.addAll(start.leases());
    waiters.addAll(start.line());
    seq = start.seq();
    drained.addAll(start.drainedHosts());
    dirty = true;
    lastReclaimMillis = Workflow.currentTimeMillis();
    placesByBus = Workflow.getVersion(PLACES_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    hostLiveness =
        Workflow.getVersion(HOST_LIVENESS_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1
            && settings.hostLiveness();
    answersByLoop = Workflow.getVersion(ANSWERS_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    if (Workflow.getVersion(GPU_TIME_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1) {
      gpuTime = new GpuTimeBook(start.gpuTime());
    }
    etaByBus =
        placesByBus
            && answersByLoop
            && gpuTime != null
            && Workflow.getVersion(QUEUE_ETA_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    handOver = Workflow.getVersion(HAND_OVER_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    fairTies = Workflow.getVersion(FAIR_TIES_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    grantPace =
        etaByBus && Workflow.getVersion(GRANT_PACE_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    if (hostLiveness) {
      lost.addAll(start.lostHosts());
      hosts.keySet().stream().filter(h -> !lost.contains(h)).forEach(watchDue::add);
    }
    initialized = true;
    log.info(
        "slot pool {}: allocator run {} started with {} hosts, {} leases, {} waiters",
        pool,
        Workflow.getInfo().getRunId(),
        hosts.size(),
        leases.size(),
        waiters.size());

    while (true) {
      if (leases.isEmpty() && waiters.isEmpty() && !placesChanged) {
        Workflow.await(() -> dirty || continueAsNewDue());
      } else {
        long reclaimAt = lastReclaimMillis + settings.reclaimEverySeconds() * 1000L;
        long wait = Math.max(1, reclaimAt - Workflow.currentTimeMillis());
        if (placesChanged) {
          long publishAt = placesPublishedAt + PUBLISH_PLACES_EVERY.toMillis();
          wait = Math.max(1, Math.min(wait, publishAt - Workflow.currentTimeMillis()));
        }
        if (answersByLoop) {
          sleepAtMostUntil(Workflow.currentTimeMillis() + wait);
        } else {
          Workflow.await(Duration.ofMillis(wait), () -> dirty || continueAsNewDue());
        }
      }
      dirty = false;
      settleGpuTime(); // leases the handlers released or granted
      takeLostHostsOut();
      startDueWatches();
      answerAsks();
      if (!handingOver) {
        grantWaiters(); // during a hand-over the next run grants: a grant's signal is an event
      }
      publishPlacesWhenDue();
      if (Workflow.currentTimeMillis() - lastReclaimMillis
          >= settings.reclaimEverySeconds() * 1000L) {
        lastReclaimMillis = Workflow.currentTimeMillis();
        if (!leases.isEmpty() || !waiters.isEmpty()) {
          reclaim();
        }
      }
      settleGpuTime(); // leases this loop granted or revoked
      if (continueAsNewDue() && handOver && !handingOver) {
        handingOver = true; // from now on new requests wait for the next run
        log.info(
            "slot pool {}: handing over to the next run after {} events",
            pool,
            Workflow.getInfo().getHistoryLength());
      }
      if (continueAsNewDue() && !dirty) {
        if (answersByLoop) {
          // a lease request that came meanwhile waits for this loop: answer it first
          // nor a grant still on its way: its delivery, an event, would refuse the continue-as-new
          Workflow.await(() ->
              (Workflow.isEveryHandlerFinished() && reclaiming == null && signalsOnTheirWay == 0)
                  || dirty);
        } else {
          Workflow.await(Workflow::isEveryHandlerFinished);
        }
        if (!dirty) {
          log.info(
              "slot pool {}: continuing as new with {} leases and {} waiters",
              pool,
              leases.size(),
              waiters.size());
          Workflow.continueAsNew(handOver ? state().packed() : state());
        }
      }
    }
  }

  /**
   * Waits until something changed, continuing as new is due, or {@code wakeAt}, on one timer: the
   * last timer is kept while it fires no later than needed (a timer per wait, never cancelled, put
   * two events in history for each request and release).
   */
  private void sleepAtMostUntil(long wakeAt) {
    if (wakeTimer == null || wakeTimer.isCompleted() || wakeTimerAt > wakeAt) {
      long now = Workflow.currentTimeMillis();
      wakeTimerAt = Math.max(now + 1, wakeAt);
      wakeTimer = Workflow.newTimer(Duration.ofMillis(wakeTimerAt - now));
    }
    Promise<Void> timer = wakeTimer;
    Workflow.await(() -> dirty || continueAsNewDue() || timer.isCompleted());
  }

  private boolean continueAsNewDue() {
    return Workflow.getInfo().isContinueAsNewSuggested()
        || Workflow.getInfo().getHistoryLength() >= settings.maxHistoryEvents();
  }

  private String poolFromId() {
    String id = Workflow.getInfo().getWorkflowId();
    return id.startsWith("tempera-slots-") ? id.substring("tempera-slots-".length()) : id;
  }

  @Override
  public void registerHost(HostRegistration host) {
    if (host == null || host.hostId() == null || host.hostId().isBlank()) {
      log.warn("slot pool {}: ignoring a host registration without a host id", pool);
      return;
    }
    hosts.put(host.hostId(), host);
    if (lost.remove(host.hostId())) {
      log.info("slot pool {}: lost host {} is back", pool, host.hostId());
    }
    if (hostLiveness) {
      watchDue.add(host.hostId()); // a new watch (epoch) from this registration on
    }
    dirty = true;
  }

  @Override
  public void validateRequestLease(LeaseRequest request) {
    if (request == null || request.holder() == null || request.holder().isBlank()) {
      throw new IllegalArgumentException(
          "a lease request needs a holder (the generation's workflow id)");
    }
    if (request.vramMb() < 0) {
      throw new IllegalArgumentException("vramMb must be 0 or more, got " + request.vramMb());
    }
    refuseDuringHandOver();
  }

  @Override
  public void validateGiveBack(LeaseRelease release) {
    refuseDuringHandOver();
  }

  /** During the hand-over a new Update is refused: no event, so the run can continue as new. */
  private void refuseDuringHandOver() {
    if (handingOver) {
      throw new IllegalStateException(HANDING_OVER);
    }
  }

  @Override
  public LeaseAnswer requestLease(LeaseRequest request) {
    Workflow.await(() -> initialized); // an Update may arrive before the run has loaded its state
    if (!answersByLoop) {
      dirty = true; // the main loop re-arms its reclaim timer once something is held or waits
      return answer(request);
    }
    // answered by the main loop, after every handler of this workflow task has run: the answer
    // does not depend on the order the SDK delivers this Update and the task's signals in
    Ask ask = new Ask(request);
    asks.add(ask);
    dirty = true;
    Workflow.await(() -> ask.answer != null);
    return ask.answer;
  }

  /** A lease request waiting for the main loop's answer. */
  private static final class Ask {
    final LeaseRequest request;
    LeaseAnswer answer;

    Ask(LeaseRequest request) {
      this.request = request;
    }
  }

  /** Answers the lease requests of this workflow task, in the order they came. */
  private void answerAsks() {
    if (asks.isEmpty()) {
      return;
    }
    List<Ask> now = List.copyOf(asks);
    asks.clear();
    for (Ask ask : now) {
      ask.answer = answer(ask.request);
    }
  }

  /**
   * The lease held, or a place in the queue (the lease follows by signal), or why no GPU of the
   * pool can ever hold it. Asking again gives the same answer.
   */
  private LeaseAnswer answer(LeaseRequest request) {
    seq++;
    Lease held = leaseOf(request.holder());
    if (held != null) {
      return new LeaseAnswer(pool, held, 0, seq, null);
    }
    int place = placeOf(request.holder());
    if (place > 0) {
      return new LeaseAnswer(pool, null, place, seq, null);
    }
    String rejection = neverFits(request.vramMb());
    if (rejection != null) {
      return new LeaseAnswer(pool, null, 0, seq, rejection);
    }
    if (waiters.isEmpty()) {
      Lease lease = fit(request);
      if (lease != null) {
        leases.add(lease);
        log.info("slot pool {}: granted {} to {}", pool, lease.leaseId(), request.holder());
        return new LeaseAnswer(pool, lease, 0, seq, null);
      }
    }
    waiters.add(new Waiter(request, waiters.size() + 1, Workflow.currentTimeMillis()));
    if (etaByBus) {
      placesChanged = true; // its wait is published with the next places, within a second
    }
    int placeNow = waiters.size();
    if (request.ordered() && fairShare()) {
      orderWaiters();
      placeNow = placeOf(request.holder());
      waiters.set(placeNow - 1, waiters.get(placeNow - 1).at(placeNow));
    }
    log.info(
        "slot pool {}: {} waits in line at place {} ({} leases held, {} hosts)",
        pool,
        request.holder(),
        placeNow,
        leases.size(),
        hosts.size());
    return new LeaseAnswer(pool, null, placeNow, seq, null);
  }

  @Override
  public void giveBack(LeaseRelease release) {
    Workflow.await(() -> initialized); // an Update may arrive before the run has loaded its state
    release(release);
  }

  @Override
  public void release(LeaseRelease release) {
    if (release == null || release.holder() == null) {
      return;
    }
    boolean changed =
        leases.removeIf(l ->
            l.holder().equals(release.holder())
                && (release.hostId() != null
                    ? l.hostId().equals(release.hostId())
                    : release.leaseId() == null || l.leaseId().equals(release.leaseId())));
    if (release.leaseId() == null && release.hostId() == null) {
      changed |= waiters.removeIf(w -> w.request().holder().equals(release.holder()));
    }
    if (changed) {
      log.info(
          "slot pool {}: released what {} held ({})", pool, release.holder(), release.reason());
      dirty = true;
    }
  }

  @Override
  public void drain(HostDrain drain) {
    if (drain == null || drain.hostId() == null || drain.hostId().isBlank()) {
      log.warn("slot pool {}: ignoring a drain without a host id", pool);
      return;
    }
    if (Workflow.getVersion(DRAIN_CHANGE, Workflow.DEFAULT_VERSION, 1)
        == Workflow.DEFAULT_VERSION) {
      return; // the code that received it had no draining
    }
    boolean changed =
        drain.drained() ? drained.add(drain.hostId()) : drained.remove(drain.hostId());
    if (changed) {
      log.info(
          "slot pool {}: host {} {}{}",
          pool,
          drain.hostId(),
          drain.drained() ? "drained: no new lease goes there" : "back in placement",
          drain.reason() == null ? "" : " (" + drain.reason() + ")");
      dirty = true;
    }
  }

  @Override
  public AllocatorState state() {
    return new AllocatorState(
        pool,
        List.copyOf(hosts.values()),
        leases,
        waiters,
        seq,
        settings,
        List.copyOf(lost),
        List.copyOf(drained),
        gpuTime == null ? GpuTime.none() : gpuTime.snapshot());
  }

  private void settleGpuTime() {
    if (gpuTime != null) {
      gpuTime.settle(leases, Workflow.currentTimeMillis());
    }
  }

  @Override
  public PoolUsage usage(List<String> holders) {
    long now = Workflow.currentTimeMillis();
    long hour = GpuTimeBook.hourOf(now);
    Map<String, int[]> counts = new java.util.TreeMap<>(); // running, queued, first place
    for (Lease lease : leases) {
      counts.computeIfAbsent(GpuTimeBook.projectOf(lease.holder()), p -> new int[3])[0]++;
    }
    for (int i = 0; i < waiters.size(); i++) {
      int[] c =
          counts.computeIfAbsent(
              GpuTimeBook.projectOf(waiters.get(i).request().holder()), p -> new int[3]);
      if (c[1]++ == 0) {
        c[2] = i + 1;
      }
    }
    if (gpuTime != null) {
      gpuTime.projectsIn(hour).forEach(p -> counts.computeIfAbsent(p, k -> new int[3]));
    }
    List<PoolUsage.Project> projects = new ArrayList<>();
    counts.forEach((project, c) ->
        projects.add(
            new PoolUsage.Project(
                project,
                c[0],
                c[1],
                c[2],
                hour,
                gpuTime == null ? 0 : gpuTime.gpuMillis(project, hour),
                gpuTime == null ? List.of() : gpuTime.countedUpTo(project))));
    Set<String> here = new java.util.HashSet<>();
    leases.forEach(l -> here.add(l.holder()));
    waiters.forEach(w -> here.add(w.request().holder()));
    List<String> known =
        holders == null ? List.of() : holders.stream().filter(here::contains).toList();
    int slots =
        hosts.values().stream()
            .filter(h -> !lost.contains(h.hostId()))
            .mapToInt(HostRegistration::maxLeases)
            .sum();
    return new PoolUsage(
        pool,
        now,
        slots,
        leases.size(),
        waiters.size(),
        gpuTime == null ? 0 : gpuTime.finishedLeases(),
        gpuTime == null ? 0 : gpuTime.meanLeaseMillis(),
        gpuTime != null,
        projects,
        known);
  }

  // --- host liveness --------------------------------------------------------------------------

  /** Starts a new watch (a new epoch) of each host that registered or whose last watch ended. */
  private void startDueWatches() {
    if (!hostLiveness || watchDue.isEmpty()) {
      return;
    }
    List<String> due = List.copyOf(watchDue);
    watchDue.clear();
    for (String hostId : due) {
      HostRegistration host = hosts.get(hostId);
      if (host == null || lost.contains(hostId)) {
        continue;
      }
      long epoch = watchEpochs.merge(hostId, 1L, Long::sum);
      CancellationScope previous = watches.remove(hostId);
      if (previous != null) {
        previous.cancel("superseded by a new watch");
      }
      HostWatch watch = new HostWatch(pool, hostId, epoch, (int) WATCH_EACH.toSeconds());
      Duration timeout = Duration.ofSeconds(settings.hostTimeoutSeconds());
      HostActivities onHost =
          Workflow.newActivityStub(
              HostActivities.class,
              ActivityOptions.newBuilder()
                  .setSummary(
                      "Watch host "
                          + hostId
                          + " (a heartbeat every "
                          + settings.hostTimeoutSeconds()
                          + " s at most)")
                  .setTaskQueue(host.taskQueue())
                  .setScheduleToStartTimeout(timeout.multipliedBy(2))
                  .setStartToCloseTimeout(WATCH_EACH.plus(timeout.multipliedBy(2)))
                  .setHeartbeatTimeout(timeout)
                  .setCancellationType(ActivityCancellationType.TRY_CANCEL)
                  .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(1).build())
                  .build());
      CancellationScope scope =
          Workflow.newCancellationScope(() -> {
            Promise<Void> ended = Async.procedure(onHost::keepAlive, watch);
            ended.handle((ok, failure) -> {
              watchEnded(watch, failure);
              return null;
            });
          });
      scope.run();
      watches.put(hostId, scope);
    }
  }

  /**
   * A watch ended: the next one is due, or (timed out) its host is lost. Stale epochs mean nothing.
   */
  private void watchEnded(HostWatch watch, RuntimeException failure) {
    if (!Long.valueOf(watch.epoch()).equals(watchEpochs.get(watch.hostId()))) {
      return;
    }
    watches.remove(watch.hostId());
    if (failure == null) {
      watchDue.add(watch.hostId());
    } else if (!(failure.getCause() instanceof CanceledFailure)
        && !(failure instanceof CanceledFailure)) {
      lostNow.put(watch.hostId(), whyLost(watch.hostId(), failure));
    }
    dirty = true;
  }

  private String whyLost(String hostId, RuntimeException failure) {
    if (failure instanceof ActivityFailure activity
        && activity.getCause() instanceof TimeoutFailure timeout) {
      return switch (timeout.getTimeoutType()) {
        case TIMEOUT_TYPE_SCHEDULE_TO_START ->
            "GPU host "
                + hostId
                + " did not answer within "
                + settings.hostTimeoutSeconds() * 2
                + " s";
        default ->
            "GPU host "
                + hostId
                + " stopped answering (no heartbeat for "
                + settings.hostTimeoutSeconds()
                + " s)";
      };
    }
    return "GPU host " + hostId + " stopped answering: " + failure.getMessage();
  }

  /**
   * Takes the hosts found lost out of placement: their leases are revoked, their holders told to
   * move (by signal) and their followers why (over the progress bus).
   */
  private void takeLostHostsOut() {
    if (lostNow.isEmpty()) {
      return;
    }
    Map<String, String> found = new LinkedHashMap<>(lostNow);
    lostNow.clear();
    for (Map.Entry<String, String> host : found.entrySet()) {
      String hostId = host.getKey();
      String reason = host.getValue();
      lost.add(hostId);
      List<Lease> revoked = leases.stream().filter(l -> l.hostId().equals(hostId)).toList();
      leases.removeAll(revoked);
      log.warn(
          "slot pool {}: {}; it leaves placement and its {} lease(s) are revoked",
          pool,
          reason,
          revoked.size());
      for (Lease lease : revoked) {
        SlotHolder holder = Workflow.newExternalWorkflowStub(SlotHolder.class, lease.holder());
        Async.procedure(holder::slotRevoked, new LeaseRevocation(lease.leaseId(), hostId, reason))
            .exceptionally(gone -> {
              log.warn(
                  "slot pool {}: holder {} of a revoked lease cannot be signalled: {}",
                  pool,
                  lease.holder(),
                  gone.getMessage());
              return null;
            });
      }
      if (!revoked.isEmpty()) {
        try {
          local.publishMoves(revoked, reason);
        } catch (RuntimeException e) {
          log.warn("slot pool {}: the moves could not be published: {}", pool, e.getMessage());
        }
      }
    }
  }

  /** Grants to the head of the queue while it fits; then tells every waiter its new place. */
  private void grantWaiters() {
    rejectWaitersThatNeverFit();
    if (fairShare == null && waiters.stream().anyMatch(w -> w.request().ordered())) {
      fairShare();
    }
    if (Boolean.TRUE.equals(fairShare)) {
      orderWaiters(); // leases held and waiting times changed since: the line's order may too
    }
    List<Lease> granted = new ArrayList<>();
    Set<String> waitingTiers = new java.util.HashSet<>();
    for (int i = 0; i < waiters.size(); ) {
      LeaseRequest request = waiters.get(i).request();
      if (waitingTiers.contains(request.tier())) {
        i++; // one of its tier ahead of it waits: each tier keeps its order
        continue;
      }
      Lease lease = fit(request);
      if (lease != null) {
        waiters.remove(i);
        leases.add(lease);
        granted.add(lease);
        continue;
      }
      if (!Boolean.TRUE.equals(tierPlacement)) {
        break; // one line: everyone waits behind the head
      }
      waitingTiers.add(request.tier());
      i++;
    }
    if (grantPace) {
      gpuTime.granted(granted.size(), waiters.size(), Workflow.currentTimeMillis());
    }
    if (granted.isEmpty() && everyWaiterToldItsPlace()) {
      return;
    }
    seq++;
    List<Promise<Void>> sent = new ArrayList<>();
    List<Lease> grantSignals = new ArrayList<>();
    for (Lease lease : granted) {
      log.info("slot pool {}: granted {} to waiting {}", pool, lease.leaseId(), lease.holder());
      SlotHolder holder = Workflow.newExternalWorkflowStub(SlotHolder.class, lease.holder());
      Promise<Void> signal = Async.procedure(holder::slotGranted, lease);
      if (answersByLoop) {
        signalsOnTheirWay++;
        signal.handle((delivered, gone) -> {
          signalsOnTheirWay--;
          return gone == null ? null : holderGone(lease.holder(), gone);
        });
        continue;
      }
      sent.add(signal);
      grantSignals.add(lease);
    }
    List<String> positionSignals = new ArrayList<>();
    for (int i = 0; i < waiters.size(); i++) {
      Waiter waiter = waiters.get(i);
      if (waiter.notifiedPosition() != i + 1) {
        waiters.set(i, waiter.at(i + 1));
        if (placesByBus) {
          placesChanged = true; // published at most once a second, by the main loop
          continue;
        }
        SlotHolder holder =
            Workflow.newExternalWorkflowStub(SlotHolder.class, waiter.request().holder());
        sent.add(Async.procedure(holder::slotQueuePosition, new QueuePosition(i + 1, seq)));
        positionSignals.add(waiter.request().holder());
      }
    }
    // a holder that cannot be signalled is gone: its lease or place goes back to the pool
    for (int i = 0; i < sent.size(); i++) {
      try {
        sent.get(i).get();
      } catch (RuntimeException gone) {
        String holder =
            i < grantSignals.size()
                ? grantSignals.get(i).holder()
                : positionSignals.get(i - grantSignals.size());
        holderGone(holder, gone);
      }
    }
  }

  /**
   * Whether each waiter's last told place is its place now. One pass: the check it replaces looked
   * each waiter up by equality ({@code indexOf}), quadratic in the line's length (about 50 million
   * record comparisons at every turn of the loop with 10,000 waiting) with the same answer.
   */
  private boolean everyWaiterToldItsPlace() {
    for (int i = 0; i < waiters.size(); i++) {
      if (waiters.get(i).notifiedPosition() != i + 1) {
        return false;
      }
    }
    return true;
  }

  /** A holder that cannot be signalled is gone: its lease or place goes back to the pool. */
  private Void holderGone(String holder, Throwable gone) {
    log.warn(
        "slot pool {}: holder {} cannot be signalled ({}); releasing what it held",
        pool,
        holder,
        gone.getMessage());
    release(new LeaseRelease(holder, null, "holder gone"));
    return null;
  }

  /**
   * Publishes the waiters' places when they changed and the last publication is a second old (a
   * local activity: one marker in history, not a signal per waiter).
   */
  private void publishPlacesWhenDue() {
    if (!placesByBus || !placesChanged) {
      return;
    }
    if (Workflow.currentTimeMillis() - placesPublishedAt < PUBLISH_PLACES_EVERY.toMillis()) {
      return;
    }
    List<WaitingPlace> places = new ArrayList<>();
    double perPlace = etaByBus ? secondsPerPlace() : -1;
    for (int i = 0; i < waiters.size(); i++) {
      String holder = waiters.get(i).request().holder();
      if (perPlace < 0) {
        places.add(new WaitingPlace(holder, i + 1));
      } else {
        int wait = (int) Math.ceil((i + 1) * perPlace);
        int lease = (int) Math.ceil(gpuTime.meanLeaseMillis() / 1000.0);
        places.add(new WaitingPlace(holder, i + 1, wait, wait + lease));
      }
    }
    placesChanged = false;
    placesPublishedAt = Workflow.currentTimeMillis();
    if (places.isEmpty()) {
      return;
    }
    if (answersByLoop) {
      Async.procedure(local::publishPlaces, places)
          .exceptionally(e -> {
            log.warn(
                "slot pool {}: the places in line could not be published: {}",
                pool,
                e.getMessage());
            return null;
          });
      return;
    }
    try {
      local.publishPlaces(places);
    } catch (RuntimeException e) {
      log.warn("slot pool {}: the places in line could not be published: {}", pool, e.getMessage());
    }
  }

  /**
   * How many seconds each place in line waits, from what the allocator measured. Since {@link
   * #GRANT_PACE_CHANGE}: the moving average of the time between grants while the line waited, once
   * measured. Otherwise (and before): the mean length of the leases given back (an exponential
   * moving average, {@link GpuTimeBook}) over the slots of the hosts in placement (live, not
   * drained) — a slot frees that often on average, and the n-th waiter is granted after n frees. -1
   * (no estimate) until a lease was given back or with no slot.
   */
  private double secondsPerPlace() {
    if (grantPace && gpuTime.millisPerGrant() > 0) {
      return gpuTime.millisPerGrant() / 1000.0;
    }
    if (gpuTime == null || gpuTime.finishedLeases() == 0) {
      return -1;
    }
    int slots =
        hosts.values().stream()
            .filter(h -> !lost.contains(h.hostId()) && !drained.contains(h.hostId()))
            .mapToInt(HostRegistration::maxLeases)
            .sum();
    return slots == 0 ? -1 : gpuTime.meanLeaseMillis() / 1000.0 / slots;
  }

  /**
   * Waiters no GPU of the pool can ever hold (hosts registered since, or re-registered smaller)
   * leave the queue.
   */
  private void rejectWaitersThatNeverFit() {
    List<Waiter> rejected =
        waiters.stream().filter(w -> neverFits(w.request().vramMb()) != null).toList();
    if (rejected.isEmpty()) {
      return;
    }
    List<Promise<Void>> sent = new ArrayList<>();
    for (Waiter waiter : rejected) {
      waiters.remove(waiter);
      SlotHolder holder =
          Workflow.newExternalWorkflowStub(SlotHolder.class, waiter.request().holder());
      Promise<Void> signal =
          Async.procedure(holder::slotRejected, neverFits(waiter.request().vramMb()));
      if (answersByLoop) {
        signalsOnTheirWay++;
        signal.handle((delivered, gone) -> {
          signalsOnTheirWay--;
          if (gone != null) {
            log.warn(
                "slot pool {}: a rejected holder cannot be signalled: {}", pool, gone.getMessage());
          }
          return null;
        });
      } else {
        sent.add(signal);
      }
    }
    for (Promise<Void> promise : sent) {
      try {
        promise.get();
      } catch (RuntimeException gone) {
        log.warn(
            "slot pool {}: a rejected holder cannot be signalled: {}", pool, gone.getMessage());
      }
    }
  }

  /** Checks the holders of leases and places; releases what closed ones held. */
  private void reclaim() {
    List<String> holders = new ArrayList<>();
    leases.forEach(l -> holders.add(l.holder()));
    waiters.forEach(w -> holders.add(w.request().holder()));
    List<String> asked = List.copyOf(Set.copyOf(holders)).stream().sorted().toList();
    if (answersByLoop) {
      if (reclaiming != null) {
        return; // the last check has not answered yet
      }
      reclaiming = Async.function(activities::closedHolders, asked);
      reclaiming.handle((closed, failure) -> {
        reclaiming = null;
        if (failure != null) {
          log.warn("slot pool {}: could not check holders: {}", pool, failure.getMessage());
        } else {
          closed.forEach(this::reclaimFrom);
        }
        dirty = true;
        return null;
      });
      return;
    }
    List<String> closed;
    try {
      closed = activities.closedHolders(asked);
    } catch (RuntimeException e) {
      log.warn("slot pool {}: could not check holders: {}", pool, e.getMessage());
      return;
    }
    closed.forEach(this::reclaimFrom);
  }

  private void reclaimFrom(String holder) {
    log.warn("slot pool {}: reclaiming what closed holder {} held", pool, holder);
    release(new LeaseRelease(holder, null, "holder closed without releasing"));
  }

  private Lease leaseOf(String holder) {
    return leases.stream().filter(l -> l.holder().equals(holder)).findFirst().orElse(null);
  }

  private int placeOf(String holder) {
    for (int i = 0; i < waiters.size(); i++) {
      if (waiters.get(i).request().holder().equals(holder)) {
        return i + 1;
      }
    }
    return 0;
  }

  /** Why a request can never be granted here: hosts are registered, none has a GPU big enough. */
  private String neverFits(int vramMb) {
    if (hosts.isEmpty()) {
      return null;
    }
    int largest =
        hosts.values().stream()
            .flatMap(h -> h.gpus().stream())
            .mapToInt(Gpu::vramMb)
            .max()
            .orElse(0);
    return vramMb > largest
        ? "This generation needs "
            + vramMb
            + " MB of GPU memory; the largest GPU of pool "
            + pool
            + " has "
            + largest
            + " MB"
        : null;
  }

  /** Whether the line is ordered by priority and fair share (asked once: see the change id). */
  private boolean fairShare() {
    if (fairShare == null) {
      fairShare = Workflow.getVersion(FAIR_SHARE_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    }
    return fairShare;
  }

  /**
   * Puts the line in the order it is served in: by (aged) priority; within a priority, the next
   * place to the project furthest below its weighted share (leases it holds now plus places already
   * given ahead of this one, over its weight), ties to the waiter that came first; within a
   * project, arrival order. Deterministic: a function of the state and the workflow's clock.
   */
  private void orderWaiters() {
    if (waiters.size() < 2) {
      return;
    }
    long now = Workflow.currentTimeMillis();
    long agingMillis = settings.priorityAgingSeconds() * 1000L;
    Map<String, Long> usage = new HashMap<>();
    // leases held per project, and each one's newest (its index: leases are in the order granted)
    Map<String, Integer> newest = new HashMap<>();
    for (int i = 0; i < leases.size(); i++) {
      String project = projectKey(leases.get(i).projectId());
      usage.merge(project, 1L, Long::sum);
      newest.put(project, i);
    }
    Map<String, Integer> weights = new HashMap<>();
    java.util.TreeMap<Integer, LinkedHashMap<String, java.util.ArrayDeque<Integer>>> levels =
        new java.util.TreeMap<>();
    for (int i = 0; i < waiters.size(); i++) {
      Waiter waiter = waiters.get(i);
      LeaseRequest request = waiter.request();
      String project = projectKey(request.projectId());
      weights.put(project, request.weightOrDefault()); // the latest request's weight counts
      int level = request.priorityOrDefault();
      if (agingMillis > 0 && waiter.queuedAt() != null) {
        long steps = Math.max(0, now - waiter.queuedAt()) / agingMillis;
        level = (int) Math.max(LeaseRequest.HIGHEST_PRIORITY, level - steps);
      }
      levels
          .computeIfAbsent(level, l -> new LinkedHashMap<>())
          .computeIfAbsent(project, p -> new java.util.ArrayDeque<>())
          .add(i);
    }
    List<Waiter> ordered = new ArrayList<>(waiters.size());
    for (LinkedHashMap<String, java.util.ArrayDeque<Integer>> level : levels.values()) {
      while (!level.isEmpty()) {
        String next = null;
        for (Map.Entry<String, java.util.ArrayDeque<Integer>> project : level.entrySet()) {
          if (next == null || aheadOf(project.getKey(), next, level, usage, weights, newest)) {
            next = project.getKey();
          }
        }
        java.util.ArrayDeque<Integer> line = level.get(next);
        ordered.add(waiters.get(line.poll()));
        usage.merge(next, 1L, Long::sum);
        newest.put(next, leases.size() + ordered.size()); // a place handed out: its newest
        if (line.isEmpty()) {
          level.remove(next);
        }
      }
    }
    waiters.clear();
    waiters.addAll(ordered);
  }

  /**
   * Whether project {@code a} is further below its share than {@code b} (then, since {@link
   * #FAIR_TIES_CHANGE}: its newest lease or place is older; then: waited longer).
   */
  private boolean aheadOf(
      String a,
      String b,
      Map<String, java.util.ArrayDeque<Integer>> level,
      Map<String, Long> usage,
      Map<String, Integer> weights,
      Map<String, Integer> newest) {
    // usage(a) / weight(a) < usage(b) / weight(b), in integers
    long left = usage.getOrDefault(a, 0L) * weights.get(b);
    long right = usage.getOrDefault(b, 0L) * weights.get(a);
    if (left != right) {
      return left < right;
    }
    if (fairTies) {
      int newestA = newest.getOrDefault(a, -1);
      int newestB = newest.getOrDefault(b, -1);
      if (newestA != newestB) {
        return newestA < newestB;
      }
    }
    Waiter headA = waiters.get(level.get(a).peek());
    Waiter headB = waiters.get(level.get(b).peek());
    long atA = headA.queuedAt() == null ? 0 : headA.queuedAt();
    long atB = headB.queuedAt() == null ? 0 : headB.queuedAt();
    if (atA != atB) {
      return atA < atB;
    }
    return level.get(a).peek() < level.get(b).peek();
  }

  private static String projectKey(String projectId) {
    return projectId == null ? "" : projectId;
  }

  /** Whether hosts' tiers count (asked once, the first time they would: see the change id). */
  private boolean tierPlacement() {
    if (tierPlacement == null) {
      tierPlacement = Workflow.getVersion(TIER_PLACEMENT_CHANGE, Workflow.DEFAULT_VERSION, 1) >= 1;
    }
    return tierPlacement;
  }

  /**
   * A lease on the first live host (in registration order) not drained, serving the request's tier,
   * and with a GPU with room; or null.
   */
  private Lease fit(LeaseRequest request) {
    for (HostRegistration host : hosts.values()) {
      if (lost.contains(host.hostId()) || drained.contains(host.hostId())) {
        continue;
      }
      if (!host.serves(request.tier()) && tierPlacement()) {
        continue;
      }
      long onHost = leases.stream().filter(l -> l.hostId().equals(host.hostId())).count();
      if (onHost >= host.maxLeases()) {
        continue;
      }
      for (Gpu gpu : host.gpus()) {
        int used =
            leases.stream()
                .filter(l -> l.hostId().equals(host.hostId()) && l.gpuIndex() == gpu.index())
                .mapToInt(Lease::vramMb)
                .sum();
        if (gpu.vramMb() - used >= request.vramMb()) {
          String id =
              pool
                  + "/"
                  + host.hostId()
                  + "/gpu"
                  + gpu.index()
                  + "/"
                  + request.holder()
                  + "#"
                  + (seq + 1);
          seq++;
          return new Lease(
              id,
              pool,
              request.holder(),
              host.hostId(),
              host.taskQueue(),
              gpu.index(),
              request.vramMb(),
              request.projectId());
        }
      }
    }
    return null;
  }
}
