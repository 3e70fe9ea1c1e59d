package io.tempera.generation;

import io.tempera.backend.Backend;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.BackendRegistry;
import io.tempera.containers.ModelHost;
import io.tempera.containers.ModelHostException;
import io.tempera.containers.ModelLookup;
import io.tempera.containers.RunningModel;
import io.tempera.models.ModelSpec;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseAnswer;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.SlotAllocatorClient;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.slots.LocalSlotPool;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.ParameterValidator;
import io.tempera.template.QualityTier;
import io.tempera.template.RequestProblem;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.client.ActivityCompletionException;
import io.temporal.failure.ApplicationFailure;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The generation steps that touch the world: templates, slots, model containers, backends, files,
 * progress. Slots come from the pool's slot allocator when one is set ({@link #useSlotAllocator}),
 * else from this process's local slot pool; model containers from the host's {@link ModelHost}.
 */
public class GenerationActivitiesImpl implements GenerationActivities {

  private static final Logger log = LoggerFactory.getLogger(GenerationActivitiesImpl.class);
  /** How often a running backend job heartbeats even when the backend is silent. */
  static final long HEARTBEAT_EVERY_MILLIS = 2_000;

  private final TemplateRegistry templates;
  private final TemplateTranslator translator;
  private final LocalSlotPool slots;
  private final BackendRegistry backends;
  private final OutputStore outputs;
  private final ProgressBus progress;
  private final MeterRegistry metrics;
  private final DurationHistory durations = new DurationHistory();
  private volatile SlotAllocatorClient allocator;
  private volatile String pool;
  private volatile int defaultVramMb;
  private volatile ModelHost modelHost;
  private volatile String hostId = "this host";
  private volatile ModelLookup models = ModelLookup.none();
  private final ScheduledExecutorService heartbeats =
      Executors.newScheduledThreadPool(1, Thread.ofPlatform().daemon().name("tempera-heartbeat").factory());

  public GenerationActivitiesImpl(
      TemplateRegistry templates,
      TemplateTranslator translator,
      LocalSlotPool slots,
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress,
      MeterRegistry metrics) {
    this.templates = templates;
    this.translator = translator;
    this.slots = slots;
    this.backends = backends;
    this.outputs = outputs;
    this.progress = progress;
    this.metrics = metrics;
    Gauge.builder("tempera.slots.in.use", slots, LocalSlotPool::inUse)
        .description("Generations holding a slot on this worker")
        .register(metrics);
    Gauge.builder("tempera.slots.capacity", slots, LocalSlotPool::capacity).register(metrics);
  }

  /**
   * Leases slots from pool {@code pool}'s allocator; a generation whose model and tier declare no
   * VRAM asks for {@code defaultVramMb}.
   */
  public GenerationActivitiesImpl useSlotAllocator(SlotAllocatorClient allocator, String pool, int defaultVramMb) {
    this.allocator = allocator;
    this.pool = pool;
    this.defaultVramMb = Math.max(0, defaultVramMb);
    return this;
  }

  /** The host's container engine for containerised models (null: this host runs none). */
  public GenerationActivitiesImpl useModelHost(ModelHost modelHost, String hostId) {
    this.modelHost = modelHost;
    this.hostId = hostId == null ? "this host" : hostId;
    return this;
  }

  /** The model registry, for model fallbacks. */
  public GenerationActivitiesImpl useModelLookup(ModelLookup models) {
    this.models = models == null ? ModelLookup.none() : models;
    return this;
  }

  @Override
  public GenerationPlan resolveTemplate(GenerationRequest request) {
    String generationId = generationId();
    publishPhase(generationId, Phase.RESOLVING, 0.0, Phase.RESOLVING.message());
    FunctionTemplate template =
        templates
            .find(request.functionId(), request.functionVersion())
            .orElseThrow(
                () ->
                    ApplicationFailure.newNonRetryableFailure(
                        "Unknown function '" + request.functionId() + "'"
                            + (request.functionVersion() == null ? "" : " version " + request.functionVersion()),
                        ErrorCode.UNKNOWN_FUNCTION.name()));
    List<RequestProblem> problems = ParameterValidator.validate(template, request.parameters());
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          problems.stream().map(RequestProblem::message).collect(Collectors.joining("; ")),
          ErrorCode.INVALID_REQUEST.name());
    }
    QualityTier.Resolution tier = QualityTier.resolve(request.tier());
    TemplateTranslator.Translation translation = translate(template, tier.tier(), request.parameters(), request.projectId());
    List<String> warnings = new ArrayList<>();
    if (tier.warning() != null) {
      warnings.add(tier.warning());
    }
    return new GenerationPlan(
        template.id(),
        template.version(),
        request.tier(),
        tier.tier().id(),
        template.backendType(),
        translation.payload(),
        translation.fileInputs(),
        template.timeoutSeconds(tier.tier()),
        warnings,
        template.progressMessages(),
        translation.variant(),
        model(template, tier.tier()),
        template.timeouts(tier.tier()));
  }

  @Override
  public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
    FunctionTemplate template =
        templates
            .find(plan.functionId(), plan.functionVersion())
            .orElseThrow(
                () ->
                    ApplicationFailure.newNonRetryableFailure(
                        "Version " + plan.functionVersion() + " of '" + plan.functionId() + "' is no longer available",
                        ErrorCode.UNKNOWN_FUNCTION.name()));
    QualityTier target = QualityTier.fromId(tier);
    if (target == null) {
      throw ApplicationFailure.newNonRetryableFailure("Unknown tier " + tier, ErrorCode.INVALID_REQUEST.name());
    }
    TemplateTranslator.Translation translation = translate(template, target, request.parameters(), request.projectId());
    return new GenerationPlan(
        plan.functionId(), plan.functionVersion(), plan.tierRequested(), target.id(), plan.backendType(),
        translation.payload(), translation.fileInputs(), template.timeoutSeconds(target), List.of(), template.progressMessages(),
        translation.variant(), model(template, target), template.timeouts(target));
  }

  private volatile boolean containers;

  /** Whether this host starts model containers; without, every model is served by the configured endpoints. */
  public void containersEnabled(boolean enabled) {
    this.containers = enabled;
  }

  /** The model registry entry the tier runs on (null: the configured backend). */
  private io.tempera.models.ModelSpec model(FunctionTemplate template, QualityTier tier) {
    return templates.model(template, tier).map(m -> containers || !m.containerised() ? m : m.withoutContainer())
        .map(m -> startingWithin(m, template.timeouts(tier)))
        .orElse(null);
  }

  /** The model with the template's own start timeout, when it sets one ({@code timeouts.model_start_seconds}). */
  private static io.tempera.models.ModelSpec startingWithin(io.tempera.models.ModelSpec model, PhaseTimeouts timeouts) {
    int seconds = timeouts.modelStartSeconds(model.startTimeoutSeconds());
    return seconds == model.startTimeoutSeconds() ? model : model.withStartTimeoutSeconds(seconds);
  }

  /** Translates; an expression that cannot be evaluated for these values is the request's fault. */
  private TemplateTranslator.Translation translate(
      FunctionTemplate template, QualityTier tier, java.util.Map<String, Object> parameters, String projectId) {
    try {
      return translator.translate(template, tier, parameters, projectId);
    } catch (io.tempera.template.Expression.ExpressionException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The template " + template.id() + " cannot be applied to these parameters: " + e.getMessage(),
          ErrorCode.INVALID_REQUEST.name());
    }
  }

  @Override
  public SlotLease acquireSlot(SlotRequest request) {
    try {
      return slots.acquire(request.generationId());
    } catch (ApplicationFailure busy) {
      publishPhase(request.generationId(), Phase.WAITING_FOR_SLOT, 0.02, "Waiting for a free GPU slot");
      throw busy;
    }
  }

  @Override
  public LeaseAnswer requestLease(SlotRequest request, GenerationPlan plan) {
    int vramMb = vramFor(plan);
    SlotAllocatorClient client = allocator;
    if (client == null) {
      // no allocator (a single process): the local pool, the later steps on this same task queue
      SlotLease local = acquireSlot(request);
      String queue = Activity.getExecutionContext().getInfo().getActivityTaskQueue();
      return new LeaseAnswer(null, new Lease(local.leaseId(), local.slotPool(), request.generationId(), "local", queue, 0, vramMb), 0, 0, null);
    }
    LeaseAnswer answer;
    try {
      answer = client.requestLease(pool, new LeaseRequest(request.generationId(), vramMb, plan.functionId(), plan.tierUsed()));
    } catch (io.temporal.client.WorkflowUpdateException e) {
      if (e.getCause() instanceof ApplicationFailure app && IllegalArgumentException.class.getName().equals(app.getType())) {
        throw ApplicationFailure.newNonRetryableFailure(
            "The slot allocator refused the lease request: " + app.getOriginalMessage(), ErrorCode.INVALID_REQUEST.name());
      }
      // e.g. the allocator's run closed while continuing as new: asking again reaches the new run
      throw ApplicationFailure.newFailure("The slot allocator did not answer: " + rootMessage(e), ErrorCode.BACKEND_BUSY.name());
    }
    if (!answer.granted() && answer.rejection() == null) {
      progress.publish(
          new ProgressEvent(
              request.generationId(), 0, ProgressEvent.PHASE, Phase.WAITING_FOR_SLOT.name(), 0.02, null, null, answer.queuePosition(),
              "Waiting for a GPU (" + answer.queuePosition() + " in line)", System.currentTimeMillis(), null, null));
    }
    return answer;
  }

  /** The VRAM a slot for this plan must offer: the model's, else the tier's, else the default. */
  int vramFor(GenerationPlan plan) {
    if (plan.model() != null && plan.model().vramMb() > 0) {
      return plan.model().vramMb();
    }
    QualityTier tier = QualityTier.fromId(plan.tierUsed());
    Integer tierVram =
        templates
            .find(plan.functionId(), plan.functionVersion())
            .map(t -> tier == null ? null : t.tierConfigs().get(tier))
            .map(io.tempera.template.TierConfig::vramMb)
            .orElse(null);
    return tierVram != null && tierVram > 0 ? tierVram : defaultVramMb;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t instanceof ApplicationFailure app ? app.getOriginalMessage() : t.getMessage();
  }

  @Override
  public ModelEndpoint startModel(ModelStart start) {
    ModelSpec model = start.model();
    if (model == null || !model.containerised()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Model " + (model == null ? "(none)" : model.id()) + " does not run in a container", ErrorCode.INTERNAL.name());
    }
    ModelHost host = modelHost;
    if (host == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Model " + model.id() + " runs in a container, but this worker host (" + hostId + ") runs no container engine",
          ErrorCode.MODEL_UNAVAILABLE.name());
    }
    // the person sees what is happening, never the model's name (seed 002)
    publishPhase(start.holder(), Phase.STARTING_MODEL, 0.03, "Preparing the generator");
    try {
      RunningModel running = host.acquire(start.holder(), model, start.gpuIndex());
      log.info("generation {}: model {} at {} ({})", start.holder(), model.id(), running.baseUrl(),
          running.reused() ? "reused" : "started in " + running.coldStartMillis() + " ms");
      return new ModelEndpoint(running.modelId(), running.containerId(), running.baseUrl(), running.reused(), running.coldStartMillis());
    } catch (ModelHostException e) {
      throw modelFailure(model, e);
    }
  }

  /** True when the job runs on a model's own container on this host. */
  private boolean onModelContainer(BackendJob job) {
    ModelSpec model = job.plan().model();
    return job.baseUrl() != null && modelHost != null && model != null && model.containerised();
  }

  /**
   * The job as it must run now: a crashed model container was restarted by the model host, maybe
   * at another port, so a retried attempt follows the holder's service where it runs now (a fresh
   * container knows no earlier prompt: the attempt submits again, once).
   */
  private BackendJob onTheModelsCurrentService(BackendJob job) {
    if (!onModelContainer(job)) {
      return job;
    }
    try {
      Optional<RunningModel> now = modelHost.current(job.generationId(), job.plan().model());
      if (now.isPresent() && !now.get().baseUrl().equals(job.baseUrl())) {
        log.info("generation {}: model {} now runs at {} (was {})", job.generationId(), job.plan().model().id(),
            now.get().baseUrl(), job.baseUrl());
        return new BackendJob(job.generationId(), job.projectId(), job.nodeId(), job.runId(), job.plan(), now.get().baseUrl());
      }
      return job;
    } catch (ModelHostException e) {
      throw modelFailure(job.plan().model(), e);
    }
  }

  /** A backend failure on a model container that died meanwhile is that crash (retryable, with its log tail). */
  private ApplicationFailure containerCrashOr(BackendJob job, ApplicationFailure failure) {
    if (!onModelContainer(job) || failure.isNonRetryable()) {
      return failure;
    }
    try {
      modelHost.verify(job.generationId(), job.plan().model().id());
      return failure;
    } catch (ModelHostException crash) {
      return modelFailure(job.plan().model(), crash);
    }
  }

  private static ApplicationFailure modelFailure(ModelSpec model, ModelHostException e) {
    String message = "Model " + model.id() + ": " + e.getMessage() + (e.logTail().isBlank() ? "" : "\n" + tail(e.logTail(), 2_000));
    return e.code().retryable()
        ? ApplicationFailure.newFailure(message, e.code().name())
        : ApplicationFailure.newNonRetryableFailure(message, e.code().name());
  }

  private static String tail(String text, int max) {
    return text.length() <= max ? text : "…" + text.substring(text.length() - max);
  }

  @Override
  public void releaseModel(ModelStart start) {
    ModelHost host = modelHost;
    if (host != null && start.model() != null) {
      host.release(start.holder(), start.model().id());
    }
  }

  @Override
  public GenerationPlan planOnModel(GenerationRequest request, GenerationPlan plan, String modelId) {
    ModelSpec model =
        models
            .find(modelId)
            .orElseThrow(
                () ->
                    ApplicationFailure.newNonRetryableFailure(
                        "The model registry has no model '" + modelId + "'" + (plan.model() == null ? "" : " (the fallback of " + plan.model().id() + ")"),
                        ErrorCode.MODEL_UNAVAILABLE.name()));
    if (model.backendType() != null && !model.backendType().equals(plan.backendType())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The fallback model " + modelId + " speaks " + model.backendType() + ", but " + plan.functionId() + " runs on " + plan.backendType(),
          ErrorCode.MODEL_UNAVAILABLE.name());
    }
    return new GenerationPlan(
        plan.functionId(), plan.functionVersion(), plan.tierRequested(), plan.tierUsed(), plan.backendType(), plan.payload(),
        plan.fileInputs(), plan.timeoutSeconds(), List.of(), plan.progressMessages(), plan.variant(),
        startingWithin(model, plan.phaseTimeouts()), plan.timeouts());
  }

  @Override
  public BackendOutcome runOnBackend(BackendJob job) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    int attempt = context.getInfo().getAttempt();
    if (attempt > 1) {
      log.info("generation {} run {}: attempt {} re-attaches to the same run", job.generationId(), job.runId(), attempt);
    }
    Backend backend = backends.get(job.plan().backendType());
    publishPhase(job.generationId(), Phase.GENERATING, 0.05, job.plan().progressMessages().getOrDefault(Phase.GENERATING.name(), "Starting the generator"));
    AtomicReference<RunHeartbeat> last = new AtomicReference<>(new RunHeartbeat(job.runId(), 0.0));
    Thread worker = Thread.currentThread();
    AtomicReference<ActivityCompletionException> stopped = new AtomicReference<>();
    // One scheduler thread ticks for every running job; each heartbeat (a blocking call to the
    // Temporal server when it is due) goes out on its own virtual thread, so a hundred jobs' calls
    // never queue behind each other past the heartbeat timeout. At most one per job is on its way.
    AtomicBoolean beating = new AtomicBoolean();
    PhaseTimeouts timeouts = job.plan().phaseTimeouts();
    RunWatchdog watchdog = new RunWatchdog(timeouts.queueWait(), timeouts.stall(), System::nanoTime);
    AtomicReference<BackendJob> running = new AtomicReference<>(job);
    ScheduledFuture<?> ticker =
        heartbeats.scheduleAtFixedRate(
            () -> {
              RunWatchdog.Trip trip = watchdog.check();
              if (trip != null) {
                log.warn("generation {} run {}: {}", job.generationId(), job.runId(), watchdog.describe(trip));
                // the attempt stops following first (so it cannot submit again), then the backend is
                // told: the run leaves the backend's queue, or is interrupted
                worker.interrupt();
                Thread.ofVirtual().name("tempera-watchdog-", 0).start(() -> {
                  try {
                    backend.cancel(running.get());
                  } catch (RuntimeException e) {
                    log.warn("generation {}: stopping the run on the backend failed: {}", job.generationId(), e.toString());
                  }
                });
              }
              if (!beating.compareAndSet(false, true)) {
                return;
              }
              Thread.ofVirtual().name("tempera-heartbeat-", 0).start(() -> {
                try {
                  context.heartbeat(last.get());
                } catch (ActivityCompletionException e) {
                  if (stopped.compareAndSet(null, e)) {
                    log.info("generation {} run {}: activity {}; stopping", job.generationId(), job.runId(), e.getClass().getSimpleName());
                    worker.interrupt();
                  }
                } catch (RuntimeException e) {
                  log.debug("heartbeat failed", e);
                } finally {
                  beating.set(false);
                }
              });
            },
            0,
            HEARTBEAT_EVERY_MILLIS,
            TimeUnit.MILLISECONDS);
    Timer.Sample sample = Timer.start(metrics);
    String outcome = "failed";
    LiveProgress live = new LiveProgress(job, last);
    BackendJob run = job;
    try {
      run = onTheModelsCurrentService(job);
      running.set(run);
      watchdog.arm();
      BackendOutcome result = backend.run(run, outputs.projectDir(job.projectId()), p -> {
        watchdog.onProgress(p.queuePosition());
        live.accept(p);
      });
      if (result.interrupted()) {
        throwIfTripped(watchdog); // the watchdog stopped it; a run that finished meanwhile stands
      }
      outcome = result.interrupted() ? "interrupted" : "succeeded";
      if (!result.interrupted()) {
        durations.record(job.plan().functionId(), job.plan().tierUsed(), (System.currentTimeMillis() - live.startedAt) / 1000.0);
      }
      return result;
    } catch (ApplicationFailure e) {
      ApplicationFailure failure = watchdog.tripped() != null ? tripFailure(watchdog) : containerCrashOr(run, e);
      outcome = failure.getType();
      throw failure;
    } catch (RuntimeException e) {
      ActivityCompletionException cause = stopped.get();
      if (cause != null) {
        throw cause;
      }
      if (watchdog.tripped() != null) {
        outcome = watchdog.tripped() == RunWatchdog.Trip.STALLED ? ErrorCode.STALLED.name() : ErrorCode.TIMEOUT.name();
        throw tripFailure(watchdog);
      }
      throw e;
    } finally {
      ticker.cancel(false);
      Thread.interrupted();
      sample.stop(Timer.builder("tempera.backend.runs")
          .description("Backend run attempts: submit (or re-attach) and follow to the end")
          .tag("backend", backend.type())
          .tag("outcome", outcome)
          .tag("reattached", Boolean.toString(attempt > 1))
          .register(metrics));
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
        watchdog.describe(trip), trip == RunWatchdog.Trip.STALLED ? ErrorCode.STALLED.name() : ErrorCode.TIMEOUT.name());
  }

  /**
   * Turns a backend's progress into live events: overall progress, an ETA from the speed so far,
   * and the latest preview image written next to the outputs (at most four times a second).
   */
  private final class LiveProgress {
    private static final long PREVIEW_EVERY_MILLIS = 250;
    private final BackendJob job;
    private final AtomicReference<RunHeartbeat> last;
    final long startedAt = System.currentTimeMillis();
    private volatile long previewWrittenAt;
    private volatile String previewUrl;

    LiveProgress(BackendJob job, AtomicReference<RunHeartbeat> last) {
      this.job = job;
      this.last = last;
    }

    void accept(BackendProgress p) {
      double fraction = Math.max(0, Math.min(1, p.fraction()));
      double overall = 0.05 + 0.9 * fraction;
      last.set(new RunHeartbeat(job.runId(), overall));
      long now = System.currentTimeMillis();
      if (p.previewImage() != null && now - previewWrittenAt >= PREVIEW_EVERY_MILLIS) {
        previewWrittenAt = now;
        writePreview(p.previewImage());
      }
      String creative = job.plan().progressMessages().get(Phase.GENERATING.name());
      String message = creative == null ? p.message()
          : p.step() != null && p.totalSteps() != null ? creative + " (step " + p.step() + " of " + p.totalSteps() + ")" : creative;
      Integer eta = eta(fraction, now);
      progress.publish(
          new ProgressEvent(
              job.generationId(), 0, ProgressEvent.PROGRESS, Phase.GENERATING.name(), overall,
              p.step(), p.totalSteps(), p.queuePosition(), p.queuePosition() != null ? p.message() : message, now, eta, previewUrl));
    }

    /**
     * Seconds left: from the speed so far once the run has made some progress, before that from how
     * long this function took at this tier recently.
     */
    private Integer eta(double fraction, long now) {
      double elapsed = (now - startedAt) / 1000.0;
      if (fraction >= 0.05 && fraction < 1) {
        return (int) Math.ceil(elapsed * (1 - fraction) / fraction);
      }
      if (fraction < 0.05) {
        java.util.OptionalDouble typical = durations.averageSeconds(job.plan().functionId(), job.plan().tierUsed());
        if (typical.isPresent()) {
          return (int) Math.max(1, Math.ceil(typical.getAsDouble() - elapsed));
        }
      }
      return null;
    }

    private void writePreview(byte[] image) {
      try {
        Path file = outputs.previewFile(job.projectId(), job.generationId());
        Files.createDirectories(file.getParent());
        Path temp = Files.createTempFile(file.getParent(), ".preview-", ".part");
        Files.write(temp, image);
        Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        previewUrl = "/api/generations/" + job.generationId() + "/preview";
      } catch (IOException | RuntimeException e) {
        log.debug("could not store a preview of {}", job.generationId(), e);
      }
    }
  }

  /** What a running backend job heartbeats: its run id and how far it got. */
  public record RunHeartbeat(String runId, double progress) {}

  @Override
  public void cancelOnBackend(BackendJob job) {
    backends.get(job.plan().backendType()).cancel(job);
  }

  @Override
  public List<OutputRef> collectOutputs(CollectRequest request) {
    publishPhase(request.generationId(), Phase.COLLECTING_OUTPUTS, 0.95, Phase.COLLECTING_OUTPUTS.message());
    Backend backend = backends.get(request.backendType());
    Path dir = outputs.rendersDir(request.projectId(), request.nodeId());
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
    List<OutputRef> refs = new ArrayList<>();
    for (BackendFile file : request.files()) {
      String name = outputName(request.generationId(), file.filename());
      Path target = dir.resolve(name);
      long bytes = backend.download(file, target);
      metrics.summary("tempera.outputs.bytes", "backend", backend.type()).record(bytes);
      refs.add(outputs.describe(name, target));
      Activity.getExecutionContext().heartbeat(refs.size());
    }
    return refs;
  }

  @Override
  public void releaseSlot(SlotLease lease) {
    slots.release(lease);
  }

  /** A stored file's name: the generation id and the backend's base name, safe for any file system. */
  static String outputName(String generationId, String backendName) {
    String base = backendName.substring(backendName.lastIndexOf('/') + 1);
    return (generationId + "_" + base).replaceAll("[^A-Za-z0-9_.-]", "_");
  }

  private String generationId() {
    return Activity.getExecutionContext().getInfo().getWorkflowId();
  }

  private void publishPhase(String generationId, Phase phase, double at, String message) {
    progress.publish(
        new ProgressEvent(
            generationId, 0, ProgressEvent.PHASE, phase.name(), at, null, null, null, message, System.currentTimeMillis(), null, null));
  }
}
