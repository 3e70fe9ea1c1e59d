package io.tempera.backend.comfyui;

import io.tempera.backend.BackendTracing;
import java.time.Duration;

/**
 * Timeouts of a {@link ComfyUiClient}.
 *
 * @param wsIdlePoll when no WebSocket message arrives for this long, /history and /queue are polled
 *     so a finished prompt is never missed
 * @param runTimeout the longest one prompt may take, queue wait included
 * @param restartGrace how long a run waits for a server that stopped answering (a restart takes
 *     15–20 s on a real ComfyUI, longer with big models) before it gives up
 * @param tracing spans of the client's HTTP calls ({@link BackendTracing#NONE}: none)
 */
public record ComfyUiClientOptions(
    Duration connectTimeout,
    Duration requestTimeout,
    Duration wsIdlePoll,
    Duration runTimeout,
    Duration restartGrace,
    BackendTracing tracing) {

  /** How long a run waits for a restarting server by default. */
  public static final Duration DEFAULT_RESTART_GRACE = Duration.ofSeconds(90);

  public ComfyUiClientOptions {
    tracing = tracing == null ? BackendTracing.NONE : tracing;
  }

  public ComfyUiClientOptions(
      Duration connectTimeout,
      Duration requestTimeout,
      Duration wsIdlePoll,
      Duration runTimeout,
      Duration restartGrace) {
    this(connectTimeout, requestTimeout, wsIdlePoll, runTimeout, restartGrace, BackendTracing.NONE);
  }

  public ComfyUiClientOptions(
      Duration connectTimeout, Duration requestTimeout, Duration wsIdlePoll, Duration runTimeout) {
    this(connectTimeout, requestTimeout, wsIdlePoll, runTimeout, DEFAULT_RESTART_GRACE);
  }

  public static ComfyUiClientOptions defaults() {
    return new ComfyUiClientOptions(
        Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofHours(1));
  }

  public ComfyUiClientOptions withRestartGrace(Duration grace) {
    return new ComfyUiClientOptions(
        connectTimeout, requestTimeout, wsIdlePoll, runTimeout, grace, tracing);
  }

  /** The same options, the HTTP calls traced ({@link BackendTracing}). */
  public ComfyUiClientOptions withTracing(BackendTracing tracing) {
    return new ComfyUiClientOptions(
        connectTimeout, requestTimeout, wsIdlePoll, runTimeout, restartGrace, tracing);
  }
}
