package io.tempera.worker;

import io.tempera.slots.Gpu;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * A worker host's settings ({@code tempera.worker.*}).
 *
 * @param comfyuiUrl the ComfyUI server this host runs generations on
 * @param comfyuiUrls several ComfyUI servers serving the same functions (overrides comfyuiUrl); a
 *     failing one is skipped by its circuit breaker
 * @param slots how many generations this host runs on its backends at once
 * @param prefetch how many more it holds leases for, ready to start the moment a run ends (the
 *     backend never waits for a round trip through the slot allocator between two runs)
 * @param comfyuiRunTimeout the longest one ComfyUI prompt may take
 * @param scriptRuns where script-backend runs keep their working folders
 * @param gradioUrls the Gradio servers this host runs gradio functions on (none: they fail clearly)
 * @param gradioUsername login for Gradio apps started with {@code auth=...} (never logged)
 * @param gradioPassword its password (never logged)
 * @param gradioRestartGrace how long a Gradio app that stopped answering (a restart, a redeploy) is
 *     waited for before the run fails BACKEND_UNREACHABLE (default 3 minutes)
 * @param docker model containers on this host ({@code tempera.worker.docker.*}); off by default
 * @param hostId this host's id in its slot pool; its own task queue is {@code
 *     tempera-host-<hostId>} (default: the machine's host name); also the label on its model
 *     containers
 * @param gpus the GPUs this host offers (default: those {@code nvidia-smi} reports, else one
 *     virtual GPU of {@code virtualGpuVramMb})
 * @param virtualGpuVramMb the memory of the virtual GPU a host without declared or discovered GPUs
 *     offers
 * @param tiers the tiers whose generations this host runs workflows for (default: all four)
 * @param slotPool the slot pool this host belongs to (its allocator is workflow {@code
 *     tempera-slots-<pool>})
 * @param defaultVramMb the VRAM a generation asks for when neither its model nor its tier declares
 *     one
 * @param reclaimEverySeconds how often the allocator checks that lease holders still run
 * @param hostTimeoutSeconds how long a host may go without a heartbeat before its pool takes it as
 *     lost (its leases revoked, its generations moved); read by the allocator from the host that
 *     starts it
 */
@ConfigurationProperties("tempera.worker")
public record WorkerProperties(
    URI comfyuiUrl,
    List<URI> comfyuiUrls,
    Integer slots,
    Integer prefetch,
    Duration comfyuiRunTimeout,
    java.nio.file.Path scriptRuns,
    List<URI> gradioUrls,
    String gradioUsername,
    String gradioPassword,
    Duration gradioRestartGrace,
    Docker docker,
    String hostId,
    List<Gpu> gpus,
    Integer virtualGpuVramMb,
    List<String> tiers,
    String slotPool,
    Integer defaultVramMb,
    Integer reclaimEverySeconds,
    Integer hostTimeoutSeconds) {

  public static final List<String> ALL_TIERS = List.of("draft", "standard", "high", "ultra");

  /**
   * Model containers ({@code tempera.worker.docker.*}).
   *
   * @param enabled start the containers of containerised models on this host (else every model is
   *     served by the configured endpoints)
   * @param host the Docker engine (null: DOCKER_HOST, else unix:///var/run/docker.sock)
   * @param hostId this host's name on its containers' labels (null: {@code tempera.worker.host-id})
   * @param gpuVramMb the GPU memory models may use, per GPU index, e.g. {@code {0: 24000}} (null:
   *     the GPUs this host offers its slot pool)
   * @param gpus give containers their GPU (needs the NVIDIA container toolkit)
   * @param idleTimeout stop containers idle this long
   * @param healthPoll how often running containers are checked
   * @param shutdownGrace how long a stopping worker waits for running generations before it stops
   *     its containers
   * @param logTailLines how many log lines of a failed container a failure carries
   */
  public record Docker(
      boolean enabled,
      String host,
      String hostId,
      java.util.Map<Integer, Integer> gpuVramMb,
      boolean gpus,
      Duration idleTimeout,
      Duration healthPoll,
      Duration shutdownGrace,
      Integer logTailLines) {}

  public WorkerProperties {
    comfyuiUrl = comfyuiUrl == null ? URI.create("http://127.0.0.1:8188") : comfyuiUrl;
    comfyuiUrls =
        comfyuiUrls == null
            ? List.of()
            : comfyuiUrls.stream().filter(u -> u != null && !u.toString().isBlank()).toList();
    comfyuiUrls = comfyuiUrls.isEmpty() ? List.of(comfyuiUrl) : comfyuiUrls;
    slots = slots == null ? 2 : slots;
    prefetch = prefetch == null ? io.tempera.slots.HostRegistration.DEFAULT_PREFETCH : prefetch;
    if (prefetch < 0) {
      throw new IllegalArgumentException(
          "tempera.worker.prefetch must be 0 or more, got " + prefetch);
    }
    comfyuiRunTimeout = comfyuiRunTimeout == null ? Duration.ofHours(1) : comfyuiRunTimeout;
    scriptRuns = scriptRuns == null ? java.nio.file.Path.of(".tempera/script-runs") : scriptRuns;
    gradioUrls =
        gradioUrls == null
            ? List.of()
            : gradioUrls.stream().filter(u -> u != null && !u.toString().isBlank()).toList();
    gradioUsername = gradioUsername == null || gradioUsername.isBlank() ? null : gradioUsername;
    gradioPassword = gradioPassword == null || gradioPassword.isEmpty() ? null : gradioPassword;
    gradioRestartGrace =
        gradioRestartGrace == null
            ? io.tempera.backend.gradio.GradioClientOptions.DEFAULT_RESTART_GRACE
            : gradioRestartGrace;
    if (gradioRestartGrace.isNegative()) {
      throw new IllegalArgumentException(
          "tempera.worker.gradio-restart-grace must not be negative, got " + gradioRestartGrace);
    }
    docker =
        docker == null
            ? new Docker(false, null, null, null, false, null, null, null, null)
            : docker;
    hostId = hostId == null || hostId.isBlank() ? localHostName() : hostId.strip();
    if (!hostId.matches("[A-Za-z0-9_.-]{1,100}")) {
      throw new IllegalArgumentException(
          "tempera.worker.host-id must be 1-100 letters, digits, '_', '-' or '.', got '"
              + hostId
              + "'");
    }
    gpus = gpus == null ? List.of() : List.copyOf(gpus);
    virtualGpuVramMb = virtualGpuVramMb == null ? 24_576 : virtualGpuVramMb;
    tiers = tiers == null || tiers.isEmpty() ? ALL_TIERS : List.copyOf(tiers);
    for (String tier : tiers) {
      if (!ALL_TIERS.contains(tier)) {
        throw new IllegalArgumentException(
            "tempera.worker.tiers: unknown tier '" + tier + "' (known: " + ALL_TIERS + ")");
      }
    }
    slotPool = slotPool == null || slotPool.isBlank() ? "default" : slotPool.strip();
    defaultVramMb = defaultVramMb == null ? 0 : defaultVramMb;
    reclaimEverySeconds = reclaimEverySeconds == null ? 30 : reclaimEverySeconds;
    hostTimeoutSeconds =
        hostTimeoutSeconds == null
            ? io.tempera.slots.AllocatorSettings.DEFAULT_HOST_TIMEOUT_SECONDS
            : hostTimeoutSeconds;
    if (hostTimeoutSeconds < 2) {
      throw new IllegalArgumentException(
          "tempera.worker.host-timeout-seconds must be at least 2, got " + hostTimeoutSeconds);
    }
    if (slots < 1) {
      throw new IllegalArgumentException("tempera.worker.slots must be at least 1, got " + slots);
    }
  }

  private static String localHostName() {
    try {
      String name =
          java.net.InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9_.-]", "-");
      return name.isBlank() ? "local" : name.length() > 100 ? name.substring(0, 100) : name;
    } catch (java.net.UnknownHostException e) {
      return "local";
    }
  }

  /** Never prints the Gradio password. */
  @Override
  public String toString() {
    return "WorkerProperties[hostId="
        + hostId
        + ", comfyuiUrls="
        + comfyuiUrls
        + ", slots="
        + slots
        + ", gradioUrls="
        + gradioUrls
        + ", gradioUsername="
        + (gradioUsername == null ? "none" : "set")
        + ", gradioPassword="
        + (gradioPassword == null ? "none" : "set")
        + ", tiers="
        + tiers
        + ", slotPool="
        + slotPool
        + ", gpus="
        + gpus
        + ", docker="
        + docker.enabled()
        + "]";
  }
}
