package io.tempera.containers;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tempera.generation.ErrorCode;
import io.tempera.models.ModelSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The model containers of one worker host, run on a Docker engine.
 *
 * <ul>
 *   <li>A model's container is started from its registry entry (image, command, env, port, health
 *       path), its port published on loopback with a random host port, labelled with this host's
 *       id, the model and a hash of the entry, and is ready once its health path answers 2xx
 *       within the entry's start timeout.
 *   <li>One container per model and GPU, shared by every holder; it keeps running while any
 *       holder has it, and is stopped when idle longer than the idle timeout. When a start needs
 *       GPU memory the budget lacks, idle containers on that GPU are evicted, least recently used
 *       first; containers with holders never are (BACKEND_BUSY instead).
 *   <li>A watcher checks running containers every health poll: one that exited or stopped
 *       answering is a crash — its last log lines are kept for {@link #verify}, and it is
 *       restarted at once when it has holders (else dropped).
 *   <li>On start it adopts the healthy containers a previous process with the same host id left
 *       and removes dead ones; {@link #close()} waits up to the grace period for holders, then
 *       stops and removes every container of this host — never another host's.
 * </ul>
 */
public final class DockerModelHost implements ModelHost, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);
  public static final String LABEL_HOST = "io.tempera.host";
  public static final String LABEL_MODEL = "io.tempera.model";
  public static final String LABEL_SPEC_HASH = "io.tempera.spec-hash";
  public static final String LABEL_GPU = "io.tempera.gpu";
  public static final String LABEL_VRAM = "io.tempera.vram-mb";
  public static final String LABEL_HEALTH = "io.tempera.health-path";
  /** Failed health checks in a row that make a running container a crash. */
  static final int HEALTH_FAILURES_TO_CRASH = 3;
  /** Restarts within {@link #CRASH_WINDOW} after which a crashing model is given up on. */
  static final int MAX_RESTARTS_IN_WINDOW = 3;
  static final Duration CRASH_WINDOW = Duration.ofMinutes(2);

  private enum State { STARTING, RUNNING, FAILED }

  /** One model's container on one GPU (or none). Guarded by the host's monitor. */
  private static final class Entry {
    final String key;
    final String modelId;
    final Integer gpu;
    ModelSpec spec;
    String specHash;
    int vramMb;
    State state;
    String containerId;
    URI baseUrl;
    final Set<String> holders = new LinkedHashSet<>();
    long lastUsedNanos = System.nanoTime();
    CompletableFuture<RunningModel> ready;
    int healthFailures;
    final List<Long> restartTimes = new ArrayList<>();
    ModelHostException failure;

    Entry(String key, String modelId, Integer gpu) {
      this.key = key;
      this.modelId = modelId;
      this.gpu = gpu;
    }
  }

  /** A crash a holder has not been told about yet. */
  private record Crash(String containerId, ModelHostException error) {}

  private final DockerClient docker;
  private final DockerModelHostOptions options;
  private final MeterRegistry metrics;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).version(HttpClient.Version.HTTP_1_1).build();
  private final Map<String, Entry> entries = new LinkedHashMap<>();
  /** holder → entry key → the container id the holder was given. */
  private final Map<String, Map<String, String>> given = new HashMap<>();
  /** container id → its crash, kept until the entry's next container is healthy and a while after. */
  private final Map<String, Crash> crashes = new LinkedHashMap<>();
  private final ScheduledExecutorService scheduler;
  private final Counter evictions;
  private final Counter restarts;
  private final Counter crashCount;
  private final Counter idleStops;
  private volatile boolean closed;

  public DockerModelHost(DockerClient docker, DockerModelHostOptions options, MeterRegistry metrics) {
    this.docker = docker;
    this.options = options;
    this.metrics = metrics;
    this.evictions = Counter.builder("tempera.model.evictions").description("Idle model containers stopped to free GPU memory").register(metrics);
    this.restarts = Counter.builder("tempera.model.restarts").description("Crashed model containers restarted").register(metrics);
    this.crashCount = Counter.builder("tempera.model.crashes").description("Model containers that exited or stopped answering").register(metrics);
    this.idleStops = Counter.builder("tempera.model.idle.stops").description("Model containers stopped after being idle").register(metrics);
    Gauge.builder("tempera.model.containers.running", this, DockerModelHost::runningCount)
        .description("Model containers this host runs").register(metrics);
    adopt();
    this.scheduler = Executors.newScheduledThreadPool(2, Thread.ofPlatform().daemon().name("tempera-model-host-", 0).factory());
    long every = Math.max(50, options.healthPoll().toMillis());
    scheduler.scheduleWithFixedDelay(this::watch, every, every, TimeUnit.MILLISECONDS);
  }

  /** A Docker client for {@code dockerHost} (e.g. {@code unix:///var/run/docker.sock}; null: DOCKER_HOST or the default). */
  public static DockerClient connect(String dockerHost) {
    DefaultDockerClientConfig.Builder builder = DefaultDockerClientConfig.createDefaultConfigBuilder();
    if (dockerHost != null && !dockerHost.isBlank()) {
      builder.withDockerHost(dockerHost);
    }
    DockerClientConfig config = builder.build();
    ApacheDockerHttpClient client =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(config.getDockerHost())
            .sslConfig(config.getSSLConfig())
            .maxConnections(50)
            .connectionTimeout(Duration.ofSeconds(5))
            .responseTimeout(Duration.ofMinutes(2))
            .build();
    return DockerClientImpl.getInstance(config, client);
  }

  public DockerModelHostOptions options() {
    return options;
  }

  // --- ModelHost ---

  @Override
  public RunningModel acquire(String holder, ModelSpec model, Integer gpuIndex) {
    return acquire(holder, model, gpuIndex, true);
  }

  private RunningModel acquire(String holder, ModelSpec model, Integer gpuIndex, boolean checkReused) {
    if (!model.containerised()) {
      throw new IllegalArgumentException("model '" + model.id() + "' has no container image: it is served by the configured endpoints");
    }
    String key = key(model.id(), gpuIndex);
    String hash = specHash(model);
    CompletableFuture<RunningModel> ready;
    boolean starter = false;
    Entry entry;
    List<Entry> evicted = new ArrayList<>();
    String replacedContainer = null;
    RunningModel reused = null;
    synchronized (this) {
      if (closed) {
        throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null);
      }
      entry = entries.get(key);
      if (entry != null && entry.state == State.RUNNING && !entry.specHash.equals(hash) && entry.holders.isEmpty()) {
        // The registry entry changed (new image, env…): replace the idle container.
        replacedContainer = entry.containerId;
        entries.remove(key);
        entry = null;
      }
      if (entry != null && entry.state == State.FAILED) {
        if (entry.holders.isEmpty() || entry.restartTimes.size() < MAX_RESTARTS_IN_WINDOW) {
          entries.remove(key);
          entry = null;
        } else {
          throw entry.failure;
        }
      }
      if (entry == null) {
        entry = new Entry(key, model.id(), gpuIndex);
        entry.spec = model;
        entry.specHash = hash;
        entry.vramMb = model.vramMb();
        evicted = makeRoom(entry);
        entry.state = State.STARTING;
        entry.ready = new CompletableFuture<>();
        entries.put(key, entry);
        starter = true;
      }
      entry.holders.add(holder);
      entry.lastUsedNanos = System.nanoTime();
      if (entry.specHash.equals(hash)) {
        entry.spec = model; // an adopted container learns its full entry (command, env) for restarts
      }
      ready = entry.ready;
      if (entry.state == State.RUNNING) {
        given.computeIfAbsent(holder, h -> new HashMap<>()).put(key, entry.containerId);
        reused = new RunningModel(model.id(), entry.containerId, entry.baseUrl.toString(), true, 0);
      }
    }
    if (reused != null) {
      // reuse only a container that still runs; a dead one is a crash, restarted for its holders
      Optional<InspectContainerResponse.ContainerState> state = checkReused ? state(reused.containerId()) : Optional.empty();
      if (!checkReused || (state.isPresent() && Boolean.TRUE.equals(state.get().getRunning()))) {
        return reused;
      }
      crashed(entry, state.orElse(null));
      return acquire(holder, model, gpuIndex, false);
    }
    if (replacedContainer != null) {
      remove(replacedContainer, options.stopTimeout());
    }
    for (Entry e : evicted) {
      log.info("evicting idle model container {} ({}) to free {} MB on GPU {}", e.containerId, e.modelId, entry.vramMb, gpuIndex);
      remove(e.containerId, options.stopTimeout());
      evictions.increment();
    }
    if (starter) {
      start(entry, false);
    }
    RunningModel running = await(ready, model);
    synchronized (this) {
      if (!entry.holders.contains(holder)) {
        // released while it was starting
        return running;
      }
      given.computeIfAbsent(holder, h -> new HashMap<>()).put(key, running.containerId());
    }
    // The holder who started it waited for the cold start; the others reused it.
    return starter ? running : new RunningModel(running.modelId(), running.containerId(), running.baseUrl(), true, 0);
  }

  @Override
  public void release(String holder, String modelId) {
    synchronized (this) {
      Map<String, String> mine = given.getOrDefault(holder, Map.of());
      for (Entry e : entries.values()) {
        if (e.modelId.equals(modelId) && e.holders.remove(holder)) {
          e.lastUsedNanos = System.nanoTime();
        }
      }
      // a model given up on (crash loop) frees its GPU memory once nobody holds it
      entries.values().removeIf(e -> e.state == State.FAILED && e.holders.isEmpty());
      mine.keySet().removeIf(k -> k.startsWith(modelId + "@"));
      if (mine.isEmpty()) {
        given.remove(holder);
      }
      notifyAll();
    }
  }

  @Override
  public Optional<RunningModel> current(String holder, ModelSpec model) {
    String modelId = model.id();
    Entry entry = null;
    CompletableFuture<RunningModel> ready;
    String lostKey = null;
    Integer again = null;
    String reason = null;
    synchronized (this) {
      for (String key : given.getOrDefault(holder, Map.of()).keySet()) {
        if (!key.startsWith(modelId + "@")) {
          continue;
        }
        Entry e = entries.get(key);
        if (e != null && e.holders.contains(holder)) {
          entry = e;
          break;
        }
        lostKey = key;
      }
      if (entry == null) {
        // Its restart failed (the entry is gone) or this process never gave it (a worker restart,
        // adopted containers): acquire it again on the same GPU, reusing a running container.
        Entry known = lostKey != null ? null : entries.values().stream()
            .filter(e -> e.modelId.equals(modelId)).findFirst().orElse(null);
        if (lostKey == null && known == null) {
          return Optional.empty();
        }
        again = lostKey != null ? gpuOf(lostKey) : known.gpu;
        reason = lostKey != null ? "its container did not come back after a crash" : "held before this process started";
        ready = null;
      } else if (entry.state == State.FAILED) {
        throw entry.failure;
      } else if (entry.state == State.RUNNING) {
        given.get(holder).put(entry.key, entry.containerId);
        return Optional.of(new RunningModel(modelId, entry.containerId, entry.baseUrl.toString(), true, 0));
      } else {
        ready = entry.ready;
      }
    }
    if (entry == null) {
      log.info("model {} for {}: {}; acquiring it again", modelId, holder, reason);
      RunningModel running = acquire(holder, model, again);
      return Optional.of(new RunningModel(modelId, running.containerId(), running.baseUrl(), true, 0));
    }
    RunningModel restarted = await(ready, entry.spec);
    synchronized (this) {
      given.computeIfAbsent(holder, h -> new HashMap<>()).put(entry.key, restarted.containerId());
    }
    return Optional.of(new RunningModel(modelId, restarted.containerId(), restarted.baseUrl(), true, 0));
  }

  private static Integer gpuOf(String key) {
    String gpu = key.substring(key.lastIndexOf('@') + 1);
    return gpu.equals("none") ? null : Integer.valueOf(gpu);
  }

  @Override
  public void verify(String holder, String modelId) {
    List<String> containers;
    synchronized (this) {
      containers = given.getOrDefault(holder, Map.of()).entrySet().stream()
          .filter(e -> e.getKey().startsWith(modelId + "@")).map(Map.Entry::getValue).toList();
      for (String id : containers) {
        Crash crash = crashes.get(id);
        if (crash != null) {
          throw crash.error();
        }
      }
    }
    for (String id : containers) {
      Optional<InspectContainerResponse.ContainerState> state = state(id);
      if (state.isEmpty() || !Boolean.TRUE.equals(state.get().getRunning())) {
        throw crashed(modelId, id, state.orElse(null));
      }
    }
  }

  // --- what the host runs, for health and tests ---

  /** The containers this host runs now, by model id (a model on two GPUs shows once). */
  public synchronized Map<String, String> containers() {
    Map<String, String> out = new TreeMap<>();
    entries.values().stream().filter(e -> e.state == State.RUNNING).forEach(e -> out.put(e.modelId, e.containerId));
    return out;
  }

  /** Holders of a model's containers. */
  public synchronized Set<String> holders(String modelId) {
    Set<String> out = new LinkedHashSet<>();
    entries.values().stream().filter(e -> e.modelId.equals(modelId)).forEach(e -> out.addAll(e.holders));
    return out;
  }

  /** GPU memory the models on a GPU hold or are starting with. */
  public synchronized int vramInUse(Integer gpuIndex) {
    return entries.values().stream().filter(e -> java.util.Objects.equals(e.gpu, gpuIndex)).mapToInt(e -> e.vramMb).sum();
  }

  synchronized int runningCount() {
    return (int) entries.values().stream().filter(e -> e.state == State.RUNNING).count();
  }

  /** The engine answers. */
  public boolean engineAvailable() {
    try {
      docker.pingCmd().exec();
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  // --- starting ---

  /** Idle containers to evict so {@code entry} fits its GPU's budget; fails when it cannot fit. Under the monitor. */
  private List<Entry> makeRoom(Entry entry) {
    if (entry.vramMb <= 0) {
      return List.of();
    }
    Integer budget = entry.gpu == null ? null : options.gpuVramMb().get(entry.gpu);
    if (budget == null) {
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
          "This host has no GPU memory budget for GPU " + entry.gpu + " (model '" + entry.modelId + "' needs " + entry.vramMb + " MB)", "", null);
    }
    if (entry.vramMb > budget) {
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
          "Model '" + entry.modelId + "' needs " + entry.vramMb + " MB, more than GPU " + entry.gpu + " has (" + budget + " MB)", "", null);
    }
    List<Entry> onGpu = entries.values().stream().filter(e -> java.util.Objects.equals(e.gpu, entry.gpu)).toList();
    int used = onGpu.stream().mapToInt(e -> e.vramMb).sum();
    List<Entry> idle = onGpu.stream()
        .filter(e -> e.holders.isEmpty() && e.state == State.RUNNING)
        .sorted(Comparator.comparingLong(e -> e.lastUsedNanos))
        .toList();
    List<Entry> evict = new ArrayList<>();
    for (Entry e : idle) {
      if (used + entry.vramMb <= budget) {
        break;
      }
      evict.add(e);
      used -= e.vramMb;
    }
    if (used + entry.vramMb > budget) {
      throw new ModelHostException(ErrorCode.BACKEND_BUSY,
          "GPU " + entry.gpu + " has no room for model '" + entry.modelId + "' (" + entry.vramMb + " MB): the models on it are all in use", "", null);
    }
    evict.forEach(e -> entries.remove(e.key));
    return evict;
  }

  /** Starts the entry's container and completes its {@code ready} future either way. */
  private void start(Entry entry, boolean restart) {
    ModelSpec model = entry.spec;
    long began = System.nanoTime();
    String containerId = null;
    try {
      containerId = create(entry);
      docker.startContainerCmd(containerId).exec();
      URI baseUrl = publishedUrl(containerId, model.port());
      synchronized (this) {
        entry.containerId = containerId;
        entry.baseUrl = baseUrl;
      }
      waitHealthy(entry, containerId, baseUrl, began);
      long millis = Duration.ofNanos(System.nanoTime() - began).toMillis();
      Timer.builder("tempera.model.cold.start").description("Starting a model container until it is healthy")
          .tag("model", model.id()).register(metrics).record(Duration.ofNanos(System.nanoTime() - began));
      log.info("model {} {} in container {} at {} in {} ms", model.id(), restart ? "restarted" : "started", containerId, baseUrl, millis);
      RunningModel running = new RunningModel(model.id(), containerId, baseUrl.toString(), false, millis);
      synchronized (this) {
        entry.state = State.RUNNING;
        entry.healthFailures = 0;
        entry.lastUsedNanos = System.nanoTime();
        if (!entries.containsKey(entry.key) || closed) {
          // evicted or closed meanwhile: nobody may use it
          entry.ready.completeExceptionally(new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null));
          String id = containerId;
          scheduler.execute(() -> remove(id, options.stopTimeout()));
          return;
        }
      }
      entry.ready.complete(running);
    } catch (ModelHostException e) {
      fail(entry, containerId, e);
    } catch (RuntimeException e) {
      String tail = containerId == null ? "" : logTail(containerId);
      fail(entry, containerId, new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
          "Model '" + model.id() + "' could not be started: " + e.getMessage(), tail, e));
    }
  }

  private void fail(Entry entry, String containerId, ModelHostException error) {
    log.warn("model {} failed to start: {}", entry.modelId, error.getMessage());
    if (containerId != null) {
      remove(containerId, Duration.ZERO);
    }
    synchronized (this) {
      entry.state = State.FAILED;
      entry.failure = error;
      // its GPU memory is free again; a new acquire tries a new start
      if (entries.get(entry.key) == entry) {
        entries.remove(entry.key);
      }
      notifyAll();
    }
    entry.ready.completeExceptionally(error);
  }

  private String create(Entry entry) {
    ModelSpec model = entry.spec;
    try {
      docker.inspectImageCmd(model.image()).exec();
    } catch (NotFoundException e) {
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
          "Image '" + model.image() + "' of model '" + model.id() + "' is not on this host (build or load it; nothing is pulled)", "", e);
    }
    ExposedPort port = ExposedPort.tcp(model.port());
    Ports bindings = new Ports();
    bindings.bind(port, Ports.Binding.bindIp(options.bindAddress()));
    HostConfig hostConfig = HostConfig.newHostConfig().withPortBindings(bindings);
    if (options.gpus() && entry.gpu != null) {
      hostConfig.withDeviceRequests(List.of(new DeviceRequest()
          .withDriver("nvidia")
          .withDeviceIds(List.of(String.valueOf(entry.gpu)))
          .withCapabilities(List.of(List.of("gpu")))));
    }
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(LABEL_HOST, options.hostId());
    labels.put(LABEL_MODEL, model.id());
    labels.put(LABEL_SPEC_HASH, entry.specHash);
    labels.put(LABEL_GPU, entry.gpu == null ? "none" : String.valueOf(entry.gpu));
    labels.put(LABEL_VRAM, String.valueOf(model.vramMb()));
    labels.put(LABEL_HEALTH, model.healthPath() == null ? "/" : model.healthPath());
    List<String> env = new ArrayList<>();
    model.env().forEach((k, v) -> env.add(k + "=" + v));
    if (options.gpus() && entry.gpu != null) {
      env.add("NVIDIA_VISIBLE_DEVICES=" + entry.gpu);
    }
    String name = "tempera-" + options.hostId() + "-" + model.id().replaceAll("[^A-Za-z0-9_.-]", "-")
        + (entry.gpu == null ? "" : "-gpu" + entry.gpu) + "-" + UUID.randomUUID().toString().substring(0, 8);
    CreateContainerCmd cmd = docker.createContainerCmd(model.image())
        .withName(name)
        .withLabels(labels)
        .withEnv(env)
        .withExposedPorts(port)
        .withHostConfig(hostConfig);
    if (!model.command().isEmpty()) {
      cmd.withCmd(model.command());
    }
    return cmd.exec().getId();
  }

  private URI publishedUrl(String containerId, int port) {
    InspectContainerResponse inspect = docker.inspectContainerCmd(containerId).exec();
    Ports.Binding[] bound = inspect.getNetworkSettings().getPorts().getBindings().get(ExposedPort.tcp(port));
    if (bound == null || bound.length == 0) {
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Container " + containerId + " published no port for " + port, logTail(containerId), null);
    }
    String ip = bound[0].getHostIp() == null || bound[0].getHostIp().isBlank() || bound[0].getHostIp().equals("0.0.0.0")
        ? "127.0.0.1" : bound[0].getHostIp();
    return URI.create("http://" + ip + ":" + bound[0].getHostPortSpec());
  }

  private void waitHealthy(Entry entry, String containerId, URI baseUrl, long began) {
    long deadline = began + TimeUnit.SECONDS.toNanos(entry.spec.startTimeoutSeconds());
    while (true) {
      if (healthy(baseUrl, entry.spec.healthPath())) {
        return;
      }
      Optional<InspectContainerResponse.ContainerState> state = state(containerId);
      if (state.isEmpty() || !Boolean.TRUE.equals(state.get().getRunning())) {
        throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
            "Model '" + entry.modelId + "' exited while starting" + exitText(state.orElse(null)), logTail(containerId), null);
      }
      if (System.nanoTime() > deadline) {
        throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE,
            "Model '" + entry.modelId + "' did not become healthy within " + entry.spec.startTimeoutSeconds() + " s ("
                + entry.spec.healthPath() + ")", logTail(containerId), null);
      }
      synchronized (this) {
        if (closed) {
          throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null);
        }
      }
      sleep(Math.min(100, options.healthPoll().toMillis()));
    }
  }

  private RunningModel await(CompletableFuture<RunningModel> ready, ModelSpec model) {
    try {
      return ready.get(model.startTimeoutSeconds() + 30L, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ModelHostException m) {
        throw m;
      }
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Model '" + model.id() + "' could not be started", "", e.getCause());
    } catch (TimeoutException e) {
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Model '" + model.id() + "' took too long to start", "", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Interrupted while model '" + model.id() + "' started", "", e);
    }
  }

  // --- watching ---

  /** Crash detection, restarts, the idle reaper. Runs every health poll. */
  private void watch() {
    if (closed) {
      return;
    }
    try {
      List<Entry> running;
      synchronized (this) {
        running = entries.values().stream().filter(e -> e.state == State.RUNNING).toList();
      }
      long idleNanos = options.idleTimeout().toNanos();
      for (Entry e : running) {
        boolean idleTooLong;
        synchronized (this) {
          idleTooLong = e.holders.isEmpty() && System.nanoTime() - e.lastUsedNanos > idleNanos && entries.get(e.key) == e;
          if (idleTooLong) {
            entries.remove(e.key);
          }
        }
        if (idleTooLong) {
          log.info("stopping model container {} ({}): idle longer than {}", e.containerId, e.modelId, options.idleTimeout());
          remove(e.containerId, options.stopTimeout());
          idleStops.increment();
          continue;
        }
        Optional<InspectContainerResponse.ContainerState> state = state(e.containerId);
        boolean alive = state.isPresent() && Boolean.TRUE.equals(state.get().getRunning());
        if (alive && healthy(e.baseUrl, e.spec.healthPath())) {
          e.healthFailures = 0;
          continue;
        }
        if (alive && ++e.healthFailures < HEALTH_FAILURES_TO_CRASH) {
          continue;
        }
        crashed(e, state.orElse(null));
      }
      synchronized (this) {
        // crashes are kept for verify() a while after the model runs again
        if (crashes.size() > 100) {
          crashes.keySet().iterator().remove();
        }
      }
    } catch (RuntimeException e) {
      log.warn("model container watch failed: {}", e.toString());
    }
  }

  private void crashed(Entry e, InspectContainerResponse.ContainerState state) {
    ModelHostException error = crashed(e.modelId, e.containerId, state);
    crashCount.increment();
    log.warn("model container {} ({}) crashed{}; last log lines:\n{}", e.containerId, e.modelId, exitText(state), error.logTail());
    boolean restart;
    synchronized (this) {
      if (entries.get(e.key) != e || e.state != State.RUNNING) {
        return;
      }
      crashes.put(e.containerId, new Crash(e.containerId, error));
      long now = System.nanoTime();
      e.restartTimes.removeIf(t -> now - t > CRASH_WINDOW.toNanos());
      restart = !e.holders.isEmpty() && e.restartTimes.size() < MAX_RESTARTS_IN_WINDOW && !closed;
      if (restart) {
        e.restartTimes.add(now);
        e.state = State.STARTING;
        e.ready = new CompletableFuture<>();
      } else if (e.holders.isEmpty()) {
        entries.remove(e.key);
      } else {
        e.state = State.FAILED;
        e.failure = new ModelHostException(ErrorCode.CONTAINER_CRASHED,
            "Model '" + e.modelId + "' keeps crashing (" + MAX_RESTARTS_IN_WINDOW + " restarts within " + CRASH_WINDOW.toMinutes() + " minutes)",
            error.logTail(), null);
      }
    }
    remove(e.containerId, Duration.ZERO);
    if (restart) {
      restarts.increment();
      scheduler.execute(() -> start(e, true));
    }
  }

  private ModelHostException crashed(String modelId, String containerId, InspectContainerResponse.ContainerState state) {
    synchronized (this) {
      Crash known = crashes.get(containerId);
      if (known != null) {
        return known.error();
      }
    }
    return new ModelHostException(ErrorCode.CONTAINER_CRASHED,
        "The container of model '" + modelId + "' crashed" + exitText(state), logTail(containerId), null);
  }

  private static String exitText(InspectContainerResponse.ContainerState state) {
    if (state == null) {
      return " (it is gone)";
    }
    if (Boolean.TRUE.equals(state.getRunning())) {
      return " (it stopped answering its health check)";
    }
    return " (exit code " + state.getExitCodeLong() + (Boolean.TRUE.equals(state.getOOMKilled()) ? ", out of memory" : "") + ")";
  }

  // --- adopting and closing ---

  /** Takes over the healthy containers a previous process with this host id left; removes the rest. */
  private void adopt() {
    List<Container> mine = docker.listContainersCmd().withShowAll(true)
        .withLabelFilter(Map.of(LABEL_HOST, options.hostId())).exec();
    for (Container c : mine) {
      Map<String, String> labels = c.getLabels();
      String modelId = labels.get(LABEL_MODEL);
      String gpuLabel = labels.getOrDefault(LABEL_GPU, "none");
      Integer gpu = gpuLabel.equals("none") ? null : Integer.valueOf(gpuLabel);
      String key = key(modelId, gpu);
      boolean keep = false;
      try {
        InspectContainerResponse inspect = docker.inspectContainerCmd(c.getId()).exec();
        if (Boolean.TRUE.equals(inspect.getState().getRunning()) && modelId != null && !entries.containsKey(key)) {
          ExposedPort exposed = inspect.getNetworkSettings().getPorts().getBindings().keySet().stream().findFirst().orElse(null);
          if (exposed != null) {
            URI url = publishedUrl(c.getId(), exposed.getPort());
            String health = labels.getOrDefault(LABEL_HEALTH, "/");
            Entry e = new Entry(key, modelId, gpu);
            e.specHash = labels.getOrDefault(LABEL_SPEC_HASH, "");
            e.vramMb = Integer.parseInt(labels.getOrDefault(LABEL_VRAM, "0"));
            e.spec = new ModelSpec(modelId, "unknown", inspect.getConfig().getImage(), List.of(), Map.of(), exposed.getPort(), health, e.vramMb, 60, null);
            e.containerId = c.getId();
            e.baseUrl = url;
            if (healthy(url, health)) {
              e.state = State.RUNNING;
              e.ready = CompletableFuture.completedFuture(new RunningModel(modelId, c.getId(), url.toString(), true, 0));
              entries.put(key, e);
              keep = true;
              log.info("adopted running model container {} ({}) at {}", c.getId(), modelId, url);
            }
          }
        }
      } catch (RuntimeException e) {
        log.warn("cannot adopt container {}: {}", c.getId(), e.toString());
      }
      if (!keep) {
        log.info("removing leftover model container {} ({}, {})", c.getId(), modelId, c.getState());
        remove(c.getId(), Duration.ZERO);
      }
    }
  }

  /**
   * Waits up to the shutdown grace for holders to release, then stops and removes every container
   * this host owns. Other hosts' containers are never touched.
   */
  @Override
  public void close() {
    long deadline = System.nanoTime() + options.shutdownGrace().toNanos();
    synchronized (this) {
      closed = true;
      while (entries.values().stream().anyMatch(e -> !e.holders.isEmpty())) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          break;
        }
        try {
          wait(Math.min(left, 200));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      entries.clear();
      given.clear();
    }
    // every container with this host's label, including one a start was creating
    for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(Map.of(LABEL_HOST, options.hostId())).exec()) {
      remove(c.getId(), options.stopTimeout());
    }
    log.info("model host {} closed: its containers are stopped and removed", options.hostId());
  }

  /** Stops the watcher without touching the containers, like a killed worker process (tests). */
  void abandon() {
    closed = true;
    scheduler.shutdownNow();
  }

  // --- Docker and HTTP helpers ---

  private Optional<InspectContainerResponse.ContainerState> state(String containerId) {
    try {
      return Optional.ofNullable(docker.inspectContainerCmd(containerId).exec().getState());
    } catch (NotFoundException e) {
      return Optional.empty();
    }
  }

  private boolean healthy(URI baseUrl, String path) {
    try {
      HttpResponse<Void> response = http.send(
          HttpRequest.newBuilder(baseUrl.resolve(path == null ? "/" : path)).timeout(Duration.ofSeconds(2)).GET().build(),
          HttpResponse.BodyHandlers.discarding());
      return response.statusCode() / 100 == 2;
    } catch (java.io.IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** The container's last log lines (stdout and stderr), empty when there are none or it is gone. */
  String logTail(String containerId) {
    StringBuilder out = new StringBuilder();
    try {
      docker.logContainerCmd(containerId).withStdOut(true).withStdErr(true).withTail(options.logTailLines())
          .exec(new ResultCallback.Adapter<Frame>() {
            @Override
            public void onNext(Frame frame) {
              synchronized (out) {
                out.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
              }
            }
          })
          .awaitCompletion(5, TimeUnit.SECONDS);
    } catch (NotFoundException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.debug("cannot read the log of {}: {}", containerId, e.toString());
    }
    synchronized (out) {
      return out.toString().strip();
    }
  }

  private void remove(String containerId, Duration stopTimeout) {
    if (containerId == null) {
      return;
    }
    try {
      if (!stopTimeout.isZero()) {
        docker.stopContainerCmd(containerId).withTimeout((int) Math.max(1, stopTimeout.toSeconds())).exec();
      }
    } catch (NotFoundException | NotModifiedException e) {
      // already stopped or gone
    } catch (DockerException e) {
      log.warn("cannot stop container {}: {}", containerId, e.getMessage());
    }
    try {
      docker.removeContainerCmd(containerId).withForce(true).withRemoveVolumes(true).exec();
    } catch (NotFoundException e) {
      // gone
    } catch (DockerException e) {
      if (!String.valueOf(e.getMessage()).contains("already in progress")) {
        log.warn("cannot remove container {}: {}", containerId, e.getMessage());
      }
    }
  }

  static String key(String modelId, Integer gpu) {
    return modelId + "@" + (gpu == null ? "none" : gpu);
  }

  /** What identifies a container as this registry entry's: changes to any of it replace idle containers. */
  static String specHash(ModelSpec model) {
    StringBuilder sb = new StringBuilder()
        .append(model.image()).append('\n')
        .append(String.join("\u0000", model.command())).append('\n')
        .append(new TreeMap<>(model.env())).append('\n')
        .append(model.port()).append('\n')
        .append(model.healthPath()).append('\n')
        .append(model.vramMb());
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Interrupted", "", e);
    }
  }
}
