package io.tempera.containers;

import java.time.Duration;
import java.util.Map;

/**
 * How a {@link DockerModelHost} runs this worker host's model containers.
 *
 * @param hostId this worker host's name; its containers carry the label {@code
 *     io.tempera.host=<hostId>} so a restarted worker with the same id adopts them and other hosts
 *     never touch them
 * @param gpuVramMb the GPU memory the host's models may use, per GPU index (a model acquired for a
 *     GPU index not listed here has no budget and cannot start unless it needs none)
 * @param gpus whether containers get the GPU they are acquired for (a Docker device request); off
 *     on machines without GPUs, where the budget is only bookkeeping
 * @param idleTimeout a container no holder has used for this long is stopped (seed: 5 minutes)
 * @param healthPoll how often running containers are checked (exited, health path failing, idle too
 *     long); a starting one is polled at least every 100 ms
 * @param shutdownGrace how long {@link DockerModelHost#close()} waits for holders before stopping
 *     the containers
 * @param stopTimeout how long a stopping container gets between SIGTERM and SIGKILL
 * @param logTailLines how many of a failed container's last log lines a failure carries
 * @param bindAddress where the containers' ports are published on this host (loopback only by
 *     default)
 */
public record DockerModelHostOptions(
    String hostId,
    Map<Integer, Integer> gpuVramMb,
    boolean gpus,
    Duration idleTimeout,
    Duration healthPoll,
    Duration shutdownGrace,
    Duration stopTimeout,
    int logTailLines,
    String bindAddress) {

  public DockerModelHostOptions {
    if (hostId == null || !hostId.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")) {
      throw new IllegalArgumentException(
          "hostId must be letters, digits, '.', '_' or '-' (at most 63), got '" + hostId + "'");
    }
    gpuVramMb = gpuVramMb == null ? Map.of() : Map.copyOf(gpuVramMb);
    idleTimeout = idleTimeout == null ? Duration.ofMinutes(5) : idleTimeout;
    healthPoll = healthPoll == null ? Duration.ofSeconds(1) : healthPoll;
    shutdownGrace = shutdownGrace == null ? Duration.ofSeconds(30) : shutdownGrace;
    stopTimeout = stopTimeout == null ? Duration.ofSeconds(10) : stopTimeout;
    logTailLines = logTailLines <= 0 ? 50 : logTailLines;
    bindAddress = bindAddress == null || bindAddress.isBlank() ? "127.0.0.1" : bindAddress;
  }

  /** The seed's defaults for a host with these GPUs. */
  public static DockerModelHostOptions defaults(String hostId, Map<Integer, Integer> gpuVramMb) {
    return new DockerModelHostOptions(hostId, gpuVramMb, false, null, null, null, null, 0, null);
  }

  public DockerModelHostOptions withIdleTimeout(Duration idleTimeout) {
    return new DockerModelHostOptions(
        hostId,
        gpuVramMb,
        gpus,
        idleTimeout,
        healthPoll,
        shutdownGrace,
        stopTimeout,
        logTailLines,
        bindAddress);
  }

  public DockerModelHostOptions withShutdownGrace(Duration shutdownGrace) {
    return new DockerModelHostOptions(
        hostId,
        gpuVramMb,
        gpus,
        idleTimeout,
        healthPoll,
        shutdownGrace,
        stopTimeout,
        logTailLines,
        bindAddress);
  }
}
