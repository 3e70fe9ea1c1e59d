package io.tempera.backend.gradio;

import io.tempera.backend.BackendTracing;
import java.time.Duration;

/**
 * Settings of a {@link GradioClient}.
 *
 * @param streamIdleTimeout the event stream is given up when nothing (not even Gradio's 15 s
 *     heartbeat) arrives for this long
 * @param runTimeout the longest one prediction may take, queue wait included
 * @param username login for apps started with {@code auth=...} (null: none); never logged
 * @param password its password (null: none); never logged
 * @param restartGrace how long an app that stopped answering (a restart, a redeploy) is waited for
 *     before the run fails; zero waits for nothing
 * @param maxRequests at most this many requests to the app at once from this worker (event streams
 *     and downloads apart); the rest wait their turn
 * @param tracing spans of the client's HTTP calls ({@link BackendTracing#NONE}: none)
 */
public record GradioClientOptions(
    Duration connectTimeout,
    Duration requestTimeout,
    Duration streamIdleTimeout,
    Duration runTimeout,
    String username,
    String password,
    Duration restartGrace,
    int maxRequests,
    BackendTracing tracing) {

  /** A restart of a Gradio app that loads a model takes a minute or two. */
  public static final Duration DEFAULT_RESTART_GRACE = Duration.ofMinutes(3);

  public static final int DEFAULT_MAX_REQUESTS = 16;

  public GradioClientOptions {
    restartGrace = restartGrace == null ? DEFAULT_RESTART_GRACE : restartGrace;
    maxRequests = maxRequests <= 0 ? DEFAULT_MAX_REQUESTS : maxRequests;
    tracing = tracing == null ? BackendTracing.NONE : tracing;
  }

  public GradioClientOptions(
      Duration connectTimeout,
      Duration requestTimeout,
      Duration streamIdleTimeout,
      Duration runTimeout,
      String username,
      String password,
      Duration restartGrace,
      int maxRequests) {
    this(
        connectTimeout,
        requestTimeout,
        streamIdleTimeout,
        runTimeout,
        username,
        password,
        restartGrace,
        maxRequests,
        BackendTracing.NONE);
  }

  public GradioClientOptions(
      Duration connectTimeout,
      Duration requestTimeout,
      Duration streamIdleTimeout,
      Duration runTimeout,
      String username,
      String password) {
    this(
        connectTimeout,
        requestTimeout,
        streamIdleTimeout,
        runTimeout,
        username,
        password,
        DEFAULT_RESTART_GRACE,
        DEFAULT_MAX_REQUESTS);
  }

  public static GradioClientOptions defaults() {
    return new GradioClientOptions(
        Duration.ofSeconds(5),
        Duration.ofSeconds(30),
        Duration.ofSeconds(45),
        Duration.ofHours(1),
        null,
        null);
  }

  public GradioClientOptions withCredentials(String username, String password) {
    return new GradioClientOptions(
        connectTimeout,
        requestTimeout,
        streamIdleTimeout,
        runTimeout,
        username,
        password,
        restartGrace,
        maxRequests,
        tracing);
  }

  /** The same options, waiting this long for an app that stopped answering. */
  public GradioClientOptions withRestartGrace(Duration grace) {
    return new GradioClientOptions(
        connectTimeout,
        requestTimeout,
        streamIdleTimeout,
        runTimeout,
        username,
        password,
        grace,
        maxRequests,
        tracing);
  }

  /** The same options, the HTTP calls traced ({@link BackendTracing}). */
  public GradioClientOptions withTracing(BackendTracing tracing) {
    return new GradioClientOptions(
        connectTimeout,
        requestTimeout,
        streamIdleTimeout,
        runTimeout,
        username,
        password,
        restartGrace,
        maxRequests,
        tracing);
  }

  boolean hasCredentials() {
    return username != null && !username.isBlank() && password != null;
  }

  @Override
  public String toString() {
    return "GradioClientOptions[connectTimeout="
        + connectTimeout
        + ", requestTimeout="
        + requestTimeout
        + ", streamIdleTimeout="
        + streamIdleTimeout
        + ", runTimeout="
        + runTimeout
        + ", restartGrace="
        + restartGrace
        + ", maxRequests="
        + maxRequests
        + ", username="
        + (username == null ? "none" : "set")
        + ", password="
        + (password == null ? "none" : "set")
        + "]";
  }
}
