package io.tempera.containers;

import com.github.dockerjava.api.command.InspectContainerResponse;
import io.tempera.generation.ErrorCode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A model's health check: its health path answers 2xx. A starting container is polled until it is
 * healthy, exits, runs out of its start timeout or the host closes.
 */
record HealthCheck(HttpClient http, DockerEngine engine, Duration poll, BooleanSupplier closed) {

  /**
   * @param poll how often running containers are checked; a starting one is polled at least every
   *     100 ms
   * @param closed whether the host is shutting down (a wait then ends)
   */
  static HealthCheck of(DockerEngine engine, Duration poll, BooleanSupplier closed) {
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(2))
            .version(HttpClient.Version.HTTP_1_1)
            .build();
    return new HealthCheck(http, engine, poll, closed);
  }

  /** The health path ({@code /} when null) answers 2xx within 2 s. */
  boolean healthy(URI baseUrl, String path) {
    try {
      HttpResponse<Void> response =
          http.send(
              HttpRequest.newBuilder(baseUrl.resolve(path == null ? "/" : path))
                  .timeout(Duration.ofSeconds(2))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      return response.statusCode() / 100 == 2;
    } catch (java.io.IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Returns once the entry's container answers its health path; fails with MODEL_UNAVAILABLE when
   * it exits, is not healthy within the entry's start timeout counted from {@code began} ({@link
   * System#nanoTime()}), or the host closes.
   */
  void waitHealthy(ModelEntry entry, String containerId, URI baseUrl, long began) {
    long deadline = began + TimeUnit.SECONDS.toNanos(entry.spec.startTimeoutSeconds());
    while (true) {
      if (healthy(baseUrl, entry.spec.healthPath())) {
        return;
      }
      Optional<InspectContainerResponse.ContainerState> state = engine.state(containerId);
      if (!DockerEngine.running(state)) {
        throw new ModelHostException(
            ErrorCode.MODEL_UNAVAILABLE,
            "Model '"
                + entry.modelId
                + "' exited while starting"
                + DockerEngine.exitText(state.orElse(null)),
            engine.logTail(containerId),
            null);
      }
      if (System.nanoTime() > deadline) {
        throw new ModelHostException(
            ErrorCode.MODEL_UNAVAILABLE,
            "Model '"
                + entry.modelId
                + "' did not become healthy within "
                + entry.spec.startTimeoutSeconds()
                + " s ("
                + entry.spec.healthPath()
                + ")",
            engine.logTail(containerId),
            null);
      }
      if (closed.getAsBoolean()) {
        throw new ModelHostException(
            ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null);
      }
      sleep(Math.min(100, poll.toMillis()));
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelHostException(ErrorCode.MODEL_UNAVAILABLE, "Interrupted", "", e);
    }
  }
}
