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
 */
@ConfigurationProperties("tempera.worker")
public record WorkerProperties(URI comfyuiUrl, java.util.List<URI> comfyuiUrls, Integer slots, Duration comfyuiRunTimeout, java.nio.file.Path scriptRuns,
    java.util.List<URI> gradioUrls, String gradioUsername, String gradioPassword) {

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
  }

  @Override
  public String toString() {
    return "WorkerProperties[comfyuiUrls=" + comfyuiUrls + ", slots=" + slots + ", gradioUrls=" + gradioUrls
        + ", gradioUsername=" + (gradioUsername == null ? "none" : "set") + ", gradioPassword=" + (gradioPassword == null ? "none" : "set") + "]";
  }
}
