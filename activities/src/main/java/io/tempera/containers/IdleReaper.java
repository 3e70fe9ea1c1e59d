package io.tempera.containers;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops idle model containers: one no holder has used for longer than the idle timeout, and the
 * ones {@link GpuMemoryBudget} picked to free GPU memory for a start.
 */
record IdleReaper(
    DockerEngine engine,
    ModelTable table,
    DockerModelHostOptions options,
    ModelHostMetrics metrics) {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  /**
   * Stops and forgets the running entry when no holder has used it for the idle timeout; true if it
   * did.
   */
  boolean reapIfIdle(ModelEntry e) {
    boolean idleTooLong;
    synchronized (table) {
      idleTooLong =
          e.holders.isEmpty()
              && System.nanoTime() - e.lastUsedNanos > options.idleTimeout().toNanos()
              && table.get(e.key) == e;
      if (idleTooLong) {
        table.remove(e.key);
      }
    }
    if (idleTooLong) {
      log.info(
          "stopping model container {} ({}): idle longer than {}",
          e.containerId,
          e.modelId,
          options.idleTimeout());
      engine.remove(e.containerId, options.stopTimeout());
      metrics.idleStops.increment();
    }
    return idleTooLong;
  }

  /**
   * Stops the evicted entries' containers (already out of the table) to make room for {@code
   * newcomer}.
   */
  void evict(List<ModelEntry> evicted, ModelEntry newcomer) {
    for (ModelEntry e : evicted) {
      log.info(
          "evicting idle model container {} ({}) to free {} MB on GPU {}",
          e.containerId,
          e.modelId,
          newcomer.vramMb,
          newcomer.gpu);
      engine.remove(e.containerId, options.stopTimeout());
      metrics.evictions.increment();
    }
  }
}
