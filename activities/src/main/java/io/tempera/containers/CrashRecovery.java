package io.tempera.containers;

import com.github.dockerjava.api.command.InspectContainerResponse;
import io.tempera.generation.ErrorCode;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens when a running model container crashed (exited or stopped answering): the crash is
 * kept, with the container's last log lines, for the holders to be told; the container is removed
 * and restarted at once when it has holders, dropped when not, and given up on after {@link
 * #MAX_RESTARTS_IN_WINDOW} restarts within {@link #CRASH_WINDOW}.
 */
record CrashRecovery(
    DockerEngine engine,
    ModelTable table,
    ContainerStarter starter,
    ModelHostMetrics metrics,
    Executor background) {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  /** Restarts within {@link #CRASH_WINDOW} after which a crashing model is given up on. */
  static final int MAX_RESTARTS_IN_WINDOW = 3;

  static final Duration CRASH_WINDOW = Duration.ofMinutes(2);

  /** The running entry's container crashed ({@code state}: its state, null when it is gone). */
  void crashed(ModelEntry e, InspectContainerResponse.ContainerState state) {
    ModelHostException error = error(e.modelId, e.containerId, state);
    metrics.crashes.increment();
    log.warn(
        "model container {} ({}) crashed{}; last log lines:\n{}",
        e.containerId,
        e.modelId,
        DockerEngine.exitText(state),
        error.logTail());
    boolean restart;
    synchronized (table) {
      if (table.get(e.key) != e || e.state != ModelEntry.State.RUNNING) {
        return;
      }
      table.recordCrash(e.containerId, error);
      long now = System.nanoTime();
      e.restartTimes.removeIf(t -> now - t > CRASH_WINDOW.toNanos());
      restart =
          !e.holders.isEmpty() && e.restartTimes.size() < MAX_RESTARTS_IN_WINDOW && !table.closed();
      if (restart) {
        e.restartTimes.add(now);
        e.state = ModelEntry.State.STARTING;
        e.ready = new CompletableFuture<>();
      } else if (e.holders.isEmpty()) {
        table.remove(e.key);
      } else {
        e.state = ModelEntry.State.FAILED;
        e.failure =
            new ModelHostException(
                ErrorCode.CONTAINER_CRASHED,
                "Model '"
                    + e.modelId
                    + "' keeps crashing ("
                    + MAX_RESTARTS_IN_WINDOW
                    + " restarts within "
                    + CRASH_WINDOW.toMinutes()
                    + " minutes)",
                error.logTail(),
                null);
      }
    }
    engine.remove(e.containerId, Duration.ZERO);
    if (restart) {
      metrics.restarts.increment();
      background.execute(() -> starter.start(e, true));
    }
  }

  /** The crash of a model's container: the one recorded, else a new one with its last log lines. */
  ModelHostException error(
      String modelId, String containerId, InspectContainerResponse.ContainerState state) {
    synchronized (table) {
      ModelHostException known = table.crashOf(containerId);
      if (known != null) {
        return known;
      }
    }
    return new ModelHostException(
        ErrorCode.CONTAINER_CRASHED,
        "The container of model '" + modelId + "' crashed" + DockerEngine.exitText(state),
        engine.logTail(containerId),
        null);
  }
}
