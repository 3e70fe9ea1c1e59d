package io.tempera.backend.gradio;

import java.time.Duration;

/**
 * Settings of a {@link GradioClient}.
 *
 * @param streamIdleTimeout the event stream is given up when nothing (not even Gradio's 15 s
 *     heartbeat) arrives for this long
 * @param runTimeout the longest one prediction may take, queue wait included
 * @param username login for apps started with {@code auth=...} (null: none); never logged
 * @param password its password (null: none); never logged
 */
public record GradioClientOptions(
    Duration connectTimeout,
    Duration requestTimeout,
    Duration streamIdleTimeout,
    Duration runTimeout,
    String username,
    String password) {

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
        connectTimeout, requestTimeout, streamIdleTimeout, runTimeout, username, password);
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
        + ", username="
        + (username == null ? "none" : "set")
        + ", password="
        + (password == null ? "none" : "set")
        + "]";
  }
}
