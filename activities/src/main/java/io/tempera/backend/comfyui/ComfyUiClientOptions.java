package io.tempera.backend.comfyui;

import java.time.Duration;

/**
 * Timeouts of a {@link ComfyUiClient}.
 *
 * @param wsIdlePoll when no WebSocket message arrives for this long, /history and /queue are polled
 *     so a finished prompt is never missed
 * @param runTimeout the longest one prompt may take, queue wait included
 * @param restartGrace how long a run waits for a server that stopped answering (a restart takes
 *     15–20 s on a real ComfyUI, longer with big models) before it gives up
 */
public record ComfyUiClientOptions(
    Duration connectTimeout,
    Duration requestTimeout,
    Duration wsIdlePoll,
    Duration runTimeout,
    Duration restartGrace) {

  /** How long a run waits for a restarting server by default. */
  public static final Duration DEFAULT_RESTART_GRACE = Duration.ofSeconds(90);

  public ComfyUiClientOptions(
      Duration connectTimeout, Duration requestTimeout, Duration wsIdlePoll, Duration runTimeout) {
    this(connectTimeout, requestTimeout, wsIdlePoll, runTimeout, DEFAULT_RESTART_GRACE);
  }

  public static ComfyUiClientOptions defaults() {
    return new ComfyUiClientOptions(
        Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofHours(1));
  }

  public ComfyUiClientOptions withRestartGrace(Duration grace) {
    return new ComfyUiClientOptions(connectTimeout, requestTimeout, wsIdlePoll, runTimeout, grace);
  }
}
