package io.tempera.backend.comfyui;

import java.time.Duration;

/**
 * Timeouts of a {@link ComfyUiClient}.
 *
 * @param wsIdlePoll when no WebSocket message arrives for this long, /history and /queue are polled
 *     so a finished prompt is never missed
 * @param runTimeout the longest one prompt may take, queue wait included
 */
public record ComfyUiClientOptions(
    Duration connectTimeout, Duration requestTimeout, Duration wsIdlePoll, Duration runTimeout) {

  public static ComfyUiClientOptions defaults() {
    return new ComfyUiClientOptions(
        Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofHours(1));
  }
}
