package io.tempera.containers;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.generation.ErrorCode;
import io.tempera.models.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model containers of one worker host, run on a Docker engine.
 *
 * <ul>
 *   <li>A model's container is started from its registry entry (image, command, env, port, health
 *       path), its port published on loopback with a random host port, labelled with this host's
 *       id, the model and a hash of the entry, and is ready once its health path answers 2xx within
 *       the entry's start timeout.
 *   <li>One container per model and GPU, shared by every holder; it keeps running while any holder
 *       has it, and is stopped when idle longer than the idle timeout. When a start needs GPU
 *       memory the budget lacks, idle containers on that GPU are evicted, least recently used
 *       first; containers with holders never are (BACKEND_BUSY instead).
 *   <li>A watcher checks running containers every health poll: one that exited or stopped answering
 *       is a crash — its last log lines are kept for {@link #verify}, and it is restarted at once
 *       when it has holders (else dropped).
 *   <li>On start it adopts the healthy containers a previous process with the same host id left and
 *       removes dead ones; {@link #close()} waits up to the grace period for holders, then stops
 *       and removes every container of this host — never another host's.
 * </ul>
 *
 * <p>This class hands out and takes back models; its parts do the rest: {@link ModelTable} (the
 * holder bookkeeping), {@link DockerEngine} (the engine calls), {@link ContainerLabels} and {@link
 * ContainerRequest} (what a container carries), {@link HealthCheck}, {@link ContainerStarter},
 * {@link GpuMemoryBudget} and {@link IdleReaper} (eviction and the idle timeout), {@link
 * ContainerWatcher} and {@link CrashRecovery} (crashes and restarts), {@link ContainerAdopter}.
 */
public final class DockerModelHost implements ModelHost, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);
  public static final String LABEL_HOST = ContainerLabels.HOST;
  public static final String LABEL_MODEL = ContainerLabels.MODEL;
  public static final String LABEL_SPEC_HASH = ContainerLabels.SPEC_HASH;
  public static final String LABEL_GPU = ContainerLabels.GPU;
  public static final String LABEL_VRAM = ContainerLabels.VRAM;
  public static final String LABEL_HEALTH = ContainerLabels.HEALTH;

  private final DockerModelHostOptions options;
  private final DockerEngine engine;
  private final ModelTable table = new ModelTable();
  private final GpuMemoryBudget budget;
  private final ScheduledExecutorService scheduler;

  /** The watcher's schedule (it logs its own failures); cancelled on close. */
  private final java.util.concurrent.ScheduledFuture<?> watching;

  private final ContainerStarter starter;
  private final IdleReaper reaper;
  private final CrashRecovery crashes;

  public DockerModelHost(
      DockerClient docker, DockerModelHostOptions options, MeterRegistry metrics) {
    this.options = options;
    this.engine = new DockerEngine(docker, options);
    this.budget = new GpuMemoryBudget(options.gpuVramMb());
    ModelHostMetrics meters = new ModelHostMetrics(metrics, table);
    HealthCheck health = HealthCheck.of(engine, options.healthPoll(), table::closed);
    new ContainerAdopter(engine, health, table, options.hostId()).adopt();
    this.scheduler =
        Executors.newScheduledThreadPool(
            2, Thread.ofPlatform().daemon().name("tempera-model-host-", 0).factory());
    this.starter = new ContainerStarter(engine, health, table, options, meters, scheduler);
    this.reaper = new IdleReaper(engine, table, options, meters);
    this.crashes = new CrashRecovery(engine, table, starter, meters, scheduler);
    ContainerWatcher watcher = new ContainerWatcher(engine, health, table, reaper, crashes);
    long every = Math.max(50, options.healthPoll().toMillis());
    this.watching = scheduler.scheduleWithFixedDelay(watcher, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * A Docker client for {@code dockerHost} (e.g. {@code unix:///var/run/docker.sock}; null:
   * DOCKER_HOST or the default).
   */
  public static DockerClient connect(String dockerHost) {
    return DockerEngine.connect(dockerHost);
  }

  public DockerModelHostOptions options() {
    return options;
  }

  // --- ModelHost ---

  @Override
  public RunningModel acquire(String holder, ModelSpec model, Integer gpuIndex) {
    return acquire(holder, model, gpuIndex, true);
  }

  private RunningModel acquire(
      String holder, ModelSpec model, Integer gpuIndex, boolean checkReused) {
    if (!model.containerised()) {
      throw new IllegalArgumentException(
          "model '"
              + model.id()
              + "' has no container image: it is served by the configured endpoints");
    }
    String key = ModelTable.key(model.id(), gpuIndex);
    String hash = ContainerLabels.specHash(model);
    CompletableFuture<RunningModel> ready;
    boolean starts = false;
    ModelEntry entry;
    List<ModelEntry> evicted = new ArrayList<>();
    String replacedContainer = null;
    RunningModel reused = null;
    synchronized (table) {
      if (table.closed()) {
        throw new ModelHostException(
            ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null);
      }
      entry = table.get(key);
      if (entry != null
          && entry.state == ModelEntry.State.RUNNING
          && !entry.specHash.equals(hash)
          && entry.holders.isEmpty()) {
        // The registry entry changed (new image, env…): replace the idle container.
        replacedContainer = entry.containerId;
        table.remove(key);
        entry = null;
      }
      if (entry != null && entry.state == ModelEntry.State.FAILED) {
        if (entry.holders.isEmpty()
            || entry.restartTimes.size() < CrashRecovery.MAX_RESTARTS_IN_WINDOW) {
          table.remove(key);
          entry = null;
        } else {
          throw entry.failure;
        }
      }
      if (entry == null) {
        entry = new ModelEntry(key, model.id(), gpuIndex);
        entry.spec = model;
        entry.specHash = hash;
        entry.vramMb = model.vramMb();
        evicted = budget.toEvict(entry, table.entries());
        evicted.forEach(e -> table.remove(e.key));
        entry.state = ModelEntry.State.STARTING;
        entry.ready = new CompletableFuture<>();
        table.put(entry);
        starts = true;
      }
      entry.holders.add(holder);
      entry.lastUsedNanos = System.nanoTime();
      if (entry.specHash.equals(hash)) {
        entry.spec =
            model; // an adopted container learns its full entry (command, env) for restarts
      }
      ready = entry.ready;
      if (entry.state == ModelEntry.State.RUNNING) {
        table.give(holder, key, entry.containerId);
        reused = new RunningModel(model.id(), entry.containerId, entry.baseUrl.toString(), true, 0);
      }
    }
    if (reused != null) {
      // reuse only a container that still runs; a dead one is a crash, restarted for its holders
      Optional<InspectContainerResponse.ContainerState> state =
          checkReused ? engine.state(reused.containerId()) : Optional.empty();
      if (!checkReused || DockerEngine.running(state)) {
        return reused;
      }
      crashes.crashed(entry, state.orElse(null));
      return acquire(holder, model, gpuIndex, false);
    }
    if (replacedContainer != null) {
      engine.remove(replacedContainer, options.stopTimeout());
    }
    reaper.evict(evicted, entry);
    if (starts) {
      starter.start(entry, false);
    }
    RunningModel running = ContainerStarter.await(ready, model);
    synchronized (table) {
      if (!entry.holders.contains(holder)) {
        // released while it was starting
        return running;
      }
      table.give(holder, key, running.containerId());
    }
    // The holder who started it waited for the cold start; the others reused it.
    return starts
        ? running
        : new RunningModel(running.modelId(), running.containerId(), running.baseUrl(), true, 0);
  }

  @Override
  public void release(String holder, String modelId) {
    table.release(holder, modelId);
  }

  @Override
  public Optional<RunningModel> current(String holder, ModelSpec model) {
    String modelId = model.id();
    ModelEntry entry = null;
    CompletableFuture<RunningModel> ready;
    String lostKey = null;
    Integer again = null;
    String reason = null;
    synchronized (table) {
      for (String key : table.givenKeys(holder, modelId)) {
        ModelEntry e = table.get(key);
        if (e != null && e.holders.contains(holder)) {
          entry = e;
          break;
        }
        lostKey = key;
      }
      if (entry == null) {
        // Its restart failed (the entry is gone) or this process never gave it (a worker restart,
        // adopted containers): acquire it again on the same GPU, reusing a running container.
        ModelEntry known = lostKey != null ? null : table.anyOf(modelId);
        if (lostKey == null && known == null) {
          return Optional.empty();
        }
        again = lostKey != null ? ModelTable.gpuOf(lostKey) : known.gpu;
        reason =
            lostKey != null
                ? "its container did not come back after a crash"
                : "held before this process started";
        ready = null;
      } else if (entry.state == ModelEntry.State.FAILED) {
        throw entry.failure;
      } else if (entry.state == ModelEntry.State.RUNNING) {
        table.give(holder, entry.key, entry.containerId);
        return Optional.of(
            new RunningModel(modelId, entry.containerId, entry.baseUrl.toString(), true, 0));
      } else {
        ready = entry.ready;
      }
    }
    if (entry == null) {
      log.info("model {} for {}: {}; acquiring it again", modelId, holder, reason);
      RunningModel running = acquire(holder, model, again);
      return Optional.of(
          new RunningModel(modelId, running.containerId(), running.baseUrl(), true, 0));
    }
    RunningModel restarted = ContainerStarter.await(ready, entry.spec);
    synchronized (table) {
      table.give(holder, entry.key, restarted.containerId());
    }
    return Optional.of(
        new RunningModel(modelId, restarted.containerId(), restarted.baseUrl(), true, 0));
  }

  @Override
  public void verify(String holder, String modelId) {
    List<String> containers;
    synchronized (table) {
      containers = table.givenContainers(holder, modelId);
      for (String id : containers) {
        ModelHostException crash = table.crashOf(id);
        if (crash != null) {
          throw crash;
        }
      }
    }
    for (String id : containers) {
      Optional<InspectContainerResponse.ContainerState> state = engine.state(id);
      if (!DockerEngine.running(state)) {
        throw crashes.error(modelId, id, state.orElse(null));
      }
    }
  }

  // --- what the host runs, for health and tests ---

  /** The containers this host runs now, by model id (a model on two GPUs shows once). */
  public Map<String, String> containers() {
    return table.containers();
  }

  /** Holders of a model's containers. */
  public Set<String> holders(String modelId) {
    return table.holders(modelId);
  }

  /** GPU memory the models on a GPU hold or are starting with. */
  public int vramInUse(Integer gpuIndex) {
    return table.vramInUse(gpuIndex);
  }

  int runningCount() {
    return table.runningCount();
  }

  /** The engine answers. */
  public boolean engineAvailable() {
    return engine.available();
  }

  // --- closing ---

  /**
   * Waits up to the shutdown grace for holders to release, then stops and removes every container
   * this host owns. Other hosts' containers are never touched.
   */
  @Override
  public void close() {
    table.closeAndAwaitHolders(System.nanoTime() + options.shutdownGrace().toNanos());
    watching.cancel(false);
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    table.clear();
    // every container with this host's label, including one a start was creating
    engine
        .containersOf(options.hostId())
        .forEach(c -> engine.remove(c.getId(), options.stopTimeout()));
    log.info("model host {} closed: its containers are stopped and removed", options.hostId());
  }

  /** Stops the watcher without touching the containers, like a killed worker process (tests). */
  void abandon() {
    table.markClosed();
    scheduler.shutdownNow();
  }

  /**
   * The container's last log lines (stdout and stderr), empty when there are none or it is gone.
   */
  String logTail(String containerId) {
    return engine.logTail(containerId);
  }
}
