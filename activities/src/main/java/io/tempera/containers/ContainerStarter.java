package io.tempera.containers;

import io.tempera.generation.ErrorCode;
import io.tempera.models.ModelSpec;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a model entry's container (create, start, find its published port, wait until healthy) and
 * completes the entry's {@code ready} future either way; a failed start leaves no container.
 */
record ContainerStarter(
    DockerEngine engine,
    HealthCheck health,
    ModelTable table,
    DockerModelHostOptions options,
    ModelHostMetrics metrics,
    Executor background) {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  /** Starts the entry's container and completes its {@code ready} future either way. */
  void start(ModelEntry entry, boolean restart) {
    ModelSpec model = entry.spec;
    long began = System.nanoTime();
    String containerId = null;
    try {
      engine.requireImage(model);
      containerId = engine.create(ContainerRequest.of(options, entry));
      engine.start(containerId);
      URI baseUrl = engine.publishedUrl(containerId, model.port());
      synchronized (table) {
        entry.containerId = containerId;
        entry.baseUrl = baseUrl;
      }
      health.waitHealthy(entry, containerId, baseUrl, began);
      long millis = Duration.ofNanos(System.nanoTime() - began).toMillis();
      metrics.coldStart(model.id(), Duration.ofNanos(System.nanoTime() - began));
      log.info(
          "model {} {} in container {} at {} in {} ms",
          model.id(),
          restart ? "restarted" : "started",
          containerId,
          baseUrl,
          millis);
      RunningModel running =
          new RunningModel(model.id(), containerId, baseUrl.toString(), false, millis);
      synchronized (table) {
        entry.state = ModelEntry.State.RUNNING;
        entry.healthFailures = 0;
        entry.lastUsedNanos = System.nanoTime();
        if (!table.contains(entry.key) || table.closed()) {
          // evicted or closed meanwhile: nobody may use it
          entry.ready.completeExceptionally(
              new ModelHostException(
                  ErrorCode.MODEL_UNAVAILABLE, "This worker host is shutting down", "", null));
          String id = containerId;
          background.execute(() -> engine.remove(id, options.stopTimeout()));
          return;
        }
      }
      entry.ready.complete(running);
    } catch (ModelHostException e) {
      fail(entry, containerId, e);
    } catch (RuntimeException e) {
      String tail = containerId == null ? "" : engine.logTail(containerId);
      fail(
          entry,
          containerId,
          new ModelHostException(
              ErrorCode.MODEL_UNAVAILABLE,
              // the engine's words are for operators: the cause, logged and in the failure's
              // details
              "Model '" + model.id() + "' could not be started",
              tail,
              e));
    }
  }

  private void fail(ModelEntry entry, String containerId, ModelHostException error) {
    log.warn(
        "model {} failed to start: {}{}",
        entry.modelId,
        error.getMessage(),
        error.getCause() == null ? "" : " (" + error.getCause() + ")");
    if (containerId != null) {
      engine.remove(containerId, Duration.ZERO);
    }
    synchronized (table) {
      entry.state = ModelEntry.State.FAILED;
      entry.failure = error;
      // its GPU memory is free again; a new acquire tries a new start
      if (table.get(entry.key) == entry) {
        table.remove(entry.key);
      }
      table.notifyAll();
    }
    entry.ready.completeExceptionally(error);
  }

  /**
   * Waits for a start of {@code model} (its start timeout and 30 s more); its failure is thrown as
   * is.
   */
  static RunningModel await(CompletableFuture<RunningModel> ready, ModelSpec model) {
    try {
      return ready.get(model.startTimeoutSeconds() + 30L, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ModelHostException m) {
        throw m;
      }
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "Model '" + model.id() + "' could not be started",
          "",
          e.getCause());
    } catch (TimeoutException e) {
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE, "Model '" + model.id() + "' took too long to start", "", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "Interrupted while model '" + model.id() + "' started",
          "",
          e);
    }
  }
}
