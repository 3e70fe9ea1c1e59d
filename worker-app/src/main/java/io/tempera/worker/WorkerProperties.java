package io.tempera.worker;

import java.net.URI;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * A worker host's settings ({@code tempera.worker.*}).
 *
 * @param comfyuiUrl the ComfyUI server this host runs generations on
 * @param comfyuiUrls several ComfyUI servers serving the same functions (overrides comfyuiUrl); a
 *     failing one is skipped by its circuit breaker
 * @param slots how many generations this host runs at once
 * @param comfyuiRunTimeout the longest one ComfyUI prompt may take
 * @param scriptRuns where script-backend runs keep their working folders
 * @param gradioUrls the Gradio servers this host runs gradio functions on (none: they fail clearly)
 * @param gradioUsername login for Gradio apps started with {@code auth=...} (never logged)
 * @param gradioPassword its password (never logged)
 * @param docker model containers on this host ({@code tempera.worker.docker.*}); off by default
 */
@ConfigurationProperties("tempera.worker")
public record WorkerProperties(URI comfyuiUrl, java.util.List<URI> comfyuiUrls, Integer slots, Duration comfyuiRunTimeout, java.nio.file.Path scriptRuns,
    java.util.List<URI> gradioUrls, String gradioUsername, String gradioPassword, Docker docker) {

  /**
   * Model containers ({@code tempera.worker.docker.*}).
   *
   * @param enabled start the containers of containerised models on this host (else every model is
   *     served by the configured endpoints)
   * @param host the Docker engine (null: DOCKER_HOST, else unix:///var/run/docker.sock)
   * @param hostId this host's name on its containers' labels (null: the machine's host name)
   * @param gpuVramMb the GPU memory models may use, per GPU index, e.g. {@code {0: 24000}}
   * @param gpus give containers their GPU (needs the NVIDIA container toolkit)
   * @param idleTimeout stop containers idle this long
   * @param healthPoll how often running containers are checked
   * @param shutdownGrace how long a stopping worker waits for running generations before it stops its containers
   * @param logTailLines how many log lines of a failed container a failure carries
   */
  public record Docker(
      boolean enabled, String host, String hostId, java.util.Map<Integer, Integer> gpuVramMb, boolean gpus,
      Duration idleTimeout, Duration healthPoll, Duration shutdownGrace, Integer logTailLines) {}

  public WorkerProperties {
    comfyuiUrl = comfyuiUrl == null ? URI.create("http://127.0.0.1:8188") : comfyuiUrl;
    comfyuiUrls = comfyuiUrls == null || comfyuiUrls.isEmpty() ? java.util.List.of(comfyuiUrl) : java.util.List.copyOf(comfyuiUrls);
    slots = slots == null ? 2 : slots;
    comfyuiRunTimeout = comfyuiRunTimeout == null ? Duration.ofHours(1) : comfyuiRunTimeout;
    scriptRuns = scriptRuns == null ? java.nio.file.Path.of(".tempera/script-runs") : scriptRuns;
    gradioUrls = gradioUrls == null ? java.util.List.of()
        : gradioUrls.stream().filter(u -> u != null && !u.toString().isBlank()).toList();
    gradioUsername = gradioUsername == null || gradioUsername.isBlank() ? null : gradioUsername;
    gradioPassword = gradioPassword == null || gradioPassword.isEmpty() ? null : gradioPassword;
    docker = docker == null ? new Docker(false, null, null, null, false, null, null, null, null) : docker;
  }

  @Override
  public String toString() {
    return "WorkerProperties[comfyuiUrls=" + comfyuiUrls + ", slots=" + slots + ", gradioUrls=" + gradioUrls
        + ", gradioUsername=" + (gradioUsername == null ? "none" : "set") + ", gradioPassword=" + (gradioPassword == null ? "none" : "set") + "]";
  }
}
