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
 */
@ConfigurationProperties("tempera.worker")
public record WorkerProperties(URI comfyuiUrl, java.util.List<URI> comfyuiUrls, Integer slots, Duration comfyuiRunTimeout, java.nio.file.Path scriptRuns) {

  public WorkerProperties {
    comfyuiUrl = comfyuiUrl == null ? URI.create("http://127.0.0.1:8188") : comfyuiUrl;
    comfyuiUrls = comfyuiUrls == null || comfyuiUrls.isEmpty() ? java.util.List.of(comfyuiUrl) : java.util.List.copyOf(comfyuiUrls);
    slots = slots == null ? 2 : slots;
    comfyuiRunTimeout = comfyuiRunTimeout == null ? Duration.ofHours(1) : comfyuiRunTimeout;
    scriptRuns = scriptRuns == null ? java.nio.file.Path.of(".tempera/script-runs") : scriptRuns;
  }
}
