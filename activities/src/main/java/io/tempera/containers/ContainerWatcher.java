package io.tempera.containers;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every health poll over the running containers: stops the idle ones ({@link IdleReaper}), and
 * hands one that exited, or failed {@link #HEALTH_FAILURES_TO_CRASH} health checks in a row, to
 * {@link CrashRecovery}.
 */
record ContainerWatcher(
    DockerEngine engine,
    HealthCheck health,
    ModelTable table,
    IdleReaper reaper,
    CrashRecovery crashes)
    implements Runnable {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  /** Failed health checks in a row that make a running container a crash. */
  static final int HEALTH_FAILURES_TO_CRASH = 3;

  /** Crash detection, restarts, the idle reaper. */
  @Override
  public void run() {
    if (table.closed()) {
      return;
    }
    try {
      List<ModelEntry> running;
      synchronized (table) {
        running = table.running();
      }
      for (ModelEntry e : running) {
        if (reaper.reapIfIdle(e)) {
          continue;
        }
        Optional<InspectContainerResponse.ContainerState> state = engine.state(e.containerId);
        boolean alive = DockerEngine.running(state);
        if (alive && health.healthy(e.baseUrl, e.spec.healthPath())) {
          e.healthFailures = 0;
          continue;
        }
        if (alive && ++e.healthFailures < HEALTH_FAILURES_TO_CRASH) {
          continue;
        }
        crashes.crashed(e, state.orElse(null));
      }
      table.trimCrashes();
    } catch (RuntimeException e) {
      log.warn("model container watch failed: {}", e.toString());
    }
  }
}
