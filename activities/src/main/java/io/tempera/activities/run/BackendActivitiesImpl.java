package io.tempera.activities.run;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tempera.activities.Heartbeats;
import io.tempera.activities.PhaseEvents;
import io.tempera.activities.models.ModelActivitiesImpl;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendRegistry;
import io.tempera.containers.ModelHost;
import io.tempera.containers.ModelHostException;
import io.tempera.containers.RunningModel;
import io.tempera.generation.BackendActivities;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.Phase;
import io.tempera.generation.PhaseTimeouts;
import io.tempera.models.ModelSpec;
import io.tempera.observability.GenerationMeters;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.Lease;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.client.ActivityCompletionException;
import io.temporal.failure.ApplicationFailure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs plans on their backend and follows them to the end: re-attaches a retried attempt to the
 * same run, follows a model container restarted meanwhile, turns the backend's progress into live
 * events, and stops a run that waits too long in the backend's queue or goes silent ({@link
 * RunWatchdog}).
 */
public class BackendActivitiesImpl implements BackendActivities {

  private static final Logger log = LoggerFactory.getLogger(BackendActivitiesImpl.class);

  private final BackendRegistry backends;
  private final OutputStore outputs;
  private final ProgressBus progress;
  private final PhaseEvents phases;
  private final MeterRegistry metrics;
  private final ModelHost modelHost;
  private final DurationHistory durations = new DurationHistory();

  /** The attempts following a run on this host now, by run id: a cancel reaches them at once. */
  private final Map<String, Thread> following = new ConcurrentHashMap<>();

  /**
   * Runs cancelled on this host, by run id (with when, forgotten after an hour): an attempt still
   * starting, or one that submitted as the cancel came, stops its run itself. A generation's run
   * and its cancel go to the same host's queue, so they meet here.
   */
  private final Map<String, Long> cancelled = new ConcurrentHashMap<>();

  private static final long FORGET_CANCELS_AFTER_MILLIS = 3_600_000;

  /** Gives a finished run's slot back to its pool (the pool's allocator, by signal). */
  private final Predicate<Lease> releaseSlot;

  /**
   * The runs this host's backends take at once: a generation leased ahead (prefetched) waits here,
   * ready, and starts the moment a run ends (first come, first served).
   */
  private final Semaphore runsAtOnce;

  private final int slots;

  /**
   * @param modelHost this host's model containers (null: it runs none)
   * @param releaseSlot gives a lease back to its pool, true when it was told: a run that finished
   *     on the backend gives its slot back at once, so the next in line starts while the outputs
   *     are collected
   * @param runsAtOnce how many runs this host's backends take at once (the host's slots; it may
   *     hold more leases, those generations wait here ready)
   */
  private final BackendHealth health = new BackendHealth();

  /** Whether this host's backends work (readiness). */
  public BackendHealth health() {
    return health;
  }

  public BackendActivitiesImpl(
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress,
      MeterRegistry metrics,
      ModelHost modelHost,
      Predicate<Lease> releaseSlot,
      int runsAtOnce) {
    this.releaseSlot = releaseSlot;
    this.runsAtOnce = new Semaphore(Math.max(1, runsAtOnce), true);
    this.slots = Math.max(1, runsAtOnce);
    this.backends = backends;
    this.outputs = outputs;
    this.progress = progress;
    this.phases = new PhaseEvents(progress);
    this.metrics = metrics;
    this.modelHost = modelHost;
  }

  /**
   * Checks the job's file inputs before a backend gets them: each a regular file of the project
   * reached without any symbolic link below the output root, and an image within the configured
   * pixel and side limits, read from its header before anything decodes it, and whole (as at
   * upload: {@link io.tempera.outputs.ImageStructure}). A non-retryable INVALID_REQUEST otherwise,
   * naming the file (a 20000 × 20000 PNG of 400 KB would take gigabytes to decode on the backend).
   */
  void checkFileInputs(BackendJob job) {
    java.nio.file.Path projectDir = outputs.projectDir(job.projectId());
    for (io.tempera.generation.FileInput input : job.plan().fileInputs()) {
      java.nio.file.Path file = projectDir.resolve(input.projectPath()).normalize();
      if (!file.startsWith(projectDir) || outputs.regularFile(file).isEmpty()) {
        throw ApplicationFailure.newNonRetryableFailure(
            "Input '"
                + input.parameter()
                + "' names a file that does not exist in the project: "
                + input.projectPath(),
            ErrorCode.INVALID_REQUEST.name());
      }
      String name = file.getFileName().toString();
      Optional<String> tooLarge = outputs.imageLimits().problem(name, file);
      if (tooLarge.isPresent()) {
        throw ApplicationFailure.newNonRetryableFailure(
            tooLarge.get(), ErrorCode.INVALID_REQUEST.name());
      }
      // an image must be that image to its end, as at upload (a file placed in the project
      // otherwise, a polyglot, a damaged output)
      Optional<io.tempera.outputs.ImageSize.Dimensions> size =
          io.tempera.outputs.ImageSize.of(file);
      String type;
      try {
        type = OutputStore.contentType(file);
      } catch (java.io.IOException e) {
        throw ApplicationFailure.newNonRetryableFailure(
            "The file " + name + " cannot be read", ErrorCode.INVALID_REQUEST.name());
      }
      if (size.isPresent() && type.matches("image/(png|jpeg|gif|webp)")) {
        Optional<String> broken = io.tempera.outputs.ImageStructure.problem(file, type, size.get());
        if (broken.isPresent()) {
          throw ApplicationFailure.newNonRetryableFailure(
              "The file " + name + " is not a whole image: " + broken.get(),
              ErrorCode.INVALID_REQUEST.name());
        }
      }
    }
  }

  /** The runs this host's backends take now (at most its slots). */
  public int runsNow() {
    return Math.max(0, slots - runsAtOnce.availablePermits());
  }

  /** What a running backend job heartbeats: its run id and how far it got. */
  public record RunHeartbeat(String runId, double progress) {}

  @Override
  public BackendOutcome runOnBackend(BackendJob job) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    int attempt = context.getInfo().getAttempt();
    if (attempt > 1) {
      log.info(
          "generation {} run {}: attempt {} re-attaches to the same run",
          job.generationId(),
          job.runId(),
          attempt);
    }
    Backend backend = backends.get(job.plan().backendType());
    // a new attempt is a phase event the client sees (its progress starts over from there)
    phases.entered(
        job.generationId(),
        Phase.GENERATING,
        0.05,
        attempt > 1
            ? "Trying again on the generator (attempt " + attempt + ")"
            : job.plan()
                .progressMessages()
                .getOrDefault(Phase.GENERATING.name(), "Starting the generator"));
    AtomicReference<RunHeartbeat> last = new AtomicReference<>(new RunHeartbeat(job.runId(), 0.0));
    Thread worker = Thread.currentThread();
    PhaseTimeouts timeouts = job.plan().timeouts();
    RunWatchdog watchdog =
        new RunWatchdog(
            timeouts.queueWait(),
            timeouts.stall(),
            Duration.ofSeconds(Math.max(10, job.plan().timeoutSeconds())),
            System::nanoTime);
    AtomicReference<BackendJob> running = new AtomicReference<>(job);
    Runnable watch =
        () -> {
          RunWatchdog.Trip trip = watchdog.check();
          if (trip != null) {
            log.warn(
                "generation {} run {}: {}",
                job.generationId(),
                job.runId(),
                watchdog.describe(trip));
            if (trip != RunWatchdog.Trip.RUN_TIME) {
              health.stalled(job.generationId(), trip.name(), watchdog.describe(trip));
            }
            // the attempt stops following first (so it cannot submit again), then the backend is
            // told: the run leaves the backend's queue, or is interrupted
            worker.interrupt();
            Thread.ofVirtual()
                .name("tempera-watchdog-", 0)
                .start(() -> {
                  try {
                    backend.cancel(running.get());
                  } catch (RuntimeException e) {
                    log.warn(
                        "generation {}: stopping the run on the backend failed: {}",
                        job.generationId(),
                        e.toString());
                  }
                });
          }
        };
    Timer.Sample sample = Timer.start(metrics);
    String outcome = "failed";
    LiveProgress live = new LiveProgress(job, last, outputs, progress, durations);
    BackendJob run = job;
    following.put(job.runId(), worker);
    try (Heartbeats beats = Heartbeats.start(context, last::get, watch)) {
      if (cancelled.containsKey(job.runId())) {
        outcome = "interrupted";
        return interrupted(job);
      }
      try {
        awaitTurn(job);
        BackendOutcome result;
        try {
          checkFileInputs(job);
          run = onTheModelsCurrentService(job);
          running.set(run);
          watchdog.arm();
          result =
              backend.run(
                  run,
                  outputs.projectDir(job.projectId()),
                  p -> {
                    watchdog.onProgress(p.queuePosition());
                    if (p.queuePosition() == null) {
                      health.progressed(); // running and reporting: the backend works
                    }
                    live.accept(p);
                  });
        } finally {
          runsAtOnce.release(); // the next one ready on this host starts now
        }
        if (cancelled.containsKey(job.runId())) {
          outcome = "interrupted";
          return stopCancelled(backend, run);
        }
        if (result.interrupted()) {
          throwIfTripped(watchdog); // the watchdog stopped it; a run that finished meanwhile stands
        }
        outcome = result.interrupted() ? "interrupted" : "succeeded";
        if (!result.interrupted()) {
          durations.record(job.plan().functionId(), job.plan().tierUsed(), live.elapsedSeconds());
          recordPhases(job, live);
          return givenBack(job, result);
        }
        return result;
      } catch (RuntimeException e) {
        if (cancelled.containsKey(job.runId())) {
          // cancelled while submitting or following: the run may have reached the backend after the
          // cancel looked for it, so it is stopped from here
          outcome = "interrupted";
          return stopCancelled(backend, run);
        }
        if (e instanceof ApplicationFailure app) {
          ApplicationFailure failure =
              watchdog.tripped() != null ? tripFailure(watchdog) : containerCrashOr(run, app);
          outcome = failure.getType();
          throw failure;
        }
        ActivityCompletionException cause = beats.stopped();
        if (cause != null) {
          throw cause;
        }
        if (watchdog.tripped() != null) {
          outcome =
              watchdog.tripped() == RunWatchdog.Trip.STALLED
                  ? ErrorCode.STALLED.name()
                  : ErrorCode.TIMEOUT.name();
          throw tripFailure(watchdog);
        }
        throw e;
      }
    } finally {
      following.remove(job.runId(), worker);
      sample.stop(
          Timer.builder("tempera.backend.runs")
              .description("Backend run attempts: submit (or re-attach) and follow to the end")
              .tag("backend", backend.type())
              .tag("outcome", outcome)
              .tag("reattached", Boolean.toString(attempt > 1))
              .register(metrics));
    }
  }

  /**
   * The backend queue (from this attempt's start, its wait for this host's turn included, until the
   * backend said the run started) and the execution (from then to its end) of a run that finished.
   */
  private void recordPhases(BackendJob job, LiveProgress live) {
    long now = System.currentTimeMillis();
    long began = live.startedAtMillis();
    long ran = live.runStartedAtMillis();
    long queueEnd = ran < 0 ? began : Math.max(began, ran);
    String function = job.plan().functionId();
    String tier = job.plan().tierUsed();
    GenerationMeters.phase(
        metrics,
        GenerationMeters.BACKEND_QUEUE,
        function,
        tier,
        Duration.ofMillis(queueEnd - began));
    GenerationMeters.phase(
        metrics, GenerationMeters.EXECUTION, function, tier, Duration.ofMillis(now - queueEnd));
  }

  /**
   * Waits for one of the runs this host's backends take at once (at once, unless this generation
   * was leased ahead and waits ready for a run to end). Interrupted (a cancel, the activity timed
   * out): the backend call is never made.
   */
  private void awaitTurn(BackendJob job) {
    if (runsAtOnce.tryAcquire()) {
      return;
    }
    phases.entered(job.generationId(), Phase.GENERATING, 0.05, "Next on the GPU");
    try {
      runsAtOnce.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("stopped while waiting for its turn on the GPU", e);
    }
  }

  /**
   * The run finished on the backend: its slot goes back to the pool now, before the workflow hears
   * of it and collects the outputs (the GPU is done with it). Best effort: when the pool cannot be
   * told, the workflow's cleanup gives it back.
   */
  private BackendOutcome givenBack(BackendJob job, BackendOutcome result) {
    if (job.lease() == null || releaseSlot == null) {
      return result;
    }
    try {
      return releaseSlot.test(job.lease()) ? result.withSlotReleased() : result;
    } catch (RuntimeException e) {
      log.warn(
          "generation {}: giving its slot back after the run failed ({}); its cleanup will",
          job.generationId(),
          e.toString());
      return result;
    }
  }

  /**
   * Stops the run: an attempt following it on this host stops at once, one still starting never
   * submits, and the backend drops it from its queue or interrupts it.
   */
  @Override
  public void cancelOnBackend(BackendJob job) {
    long now = System.currentTimeMillis();
    cancelled.values().removeIf(at -> now - at > FORGET_CANCELS_AFTER_MILLIS);
    cancelled.put(job.runId(), now);
    Thread attempt = following.get(job.runId());
    if (attempt != null) {
      attempt.interrupt();
    }
    backends.get(job.plan().backendType()).cancel(job);
  }

  /**
   * A cancelled run's attempt, done: the run stopped on the backend once more (it may just have
   * arrived).
   */
  private BackendOutcome stopCancelled(Backend backend, BackendJob run) {
    Thread
        .interrupted(); // the cancel's interrupt has done its work; the backend call below must not
    // see it
    try {
      backend.cancel(run);
    } catch (RuntimeException e) {
      log.warn(
          "generation {}: stopping the cancelled run failed: {}", run.generationId(), e.toString());
    }
    log.info(
        "generation {} run {}: cancelled, stopped on the backend", run.generationId(), run.runId());
    return interrupted(run);
  }

  private static BackendOutcome interrupted(BackendJob job) {
    return new BackendOutcome(job.runId(), true, List.of(), false);
  }

  /** True when the job runs on a model's own container on this host. */
  private boolean onModelContainer(BackendJob job) {
    ModelSpec model = job.plan().model();
    return job.baseUrl() != null && modelHost != null && model != null && model.containerised();
  }

  /**
   * The job as it must run now: a crashed model container was restarted by the model host, maybe at
   * another port, so a retried attempt follows the holder's service where it runs now (a fresh
   * container knows no earlier prompt: the attempt submits again, once).
   */
  private BackendJob onTheModelsCurrentService(BackendJob job) {
    if (!onModelContainer(job)) {
      return job;
    }
    try {
      Optional<RunningModel> now = modelHost.current(job.generationId(), job.plan().model());
      if (now.isPresent() && !now.get().baseUrl().equals(job.baseUrl())) {
        log.info(
            "generation {}: model {} now runs at {} (was {})",
            job.generationId(),
            job.plan().model().id(),
            now.get().baseUrl(),
            job.baseUrl());
        return job.at(now.get().baseUrl());
      }
      return job;
    } catch (ModelHostException e) {
      throw ModelActivitiesImpl.failure(job.plan().model(), e);
    }
  }

  /**
   * A backend failure on a model container that died meanwhile is that crash (retryable, with its
   * log tail).
   */
  private ApplicationFailure containerCrashOr(BackendJob job, ApplicationFailure failure) {
    if (!onModelContainer(job) || failure.isNonRetryable()) {
      return failure;
    }
    try {
      modelHost.verify(job.generationId(), job.plan().model().id());
      return failure;
    } catch (ModelHostException crash) {
      return ModelActivitiesImpl.failure(job.plan().model(), crash);
    }
  }

  private static void throwIfTripped(RunWatchdog watchdog) {
    if (watchdog.tripped() != null) {
      throw tripFailure(watchdog);
    }
  }

  /**
   * A run the watchdog stopped: STALLED (the workflow runs it again once, under a new run id: the
   * stopped one cannot be re-attached) or TIMEOUT for the backend's queue. Never retried as is.
   */
  private static ApplicationFailure tripFailure(RunWatchdog watchdog) {
    RunWatchdog.Trip trip = watchdog.tripped();
    return ApplicationFailure.newNonRetryableFailure(
        watchdog.describe(trip),
        trip == RunWatchdog.Trip.STALLED ? ErrorCode.STALLED.name() : ErrorCode.TIMEOUT.name());
  }
}
