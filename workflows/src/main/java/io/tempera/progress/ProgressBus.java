package io.tempera.progress;

import java.util.Optional;
import java.util.function.Consumer;

/**
 * Carries live progress from whichever worker runs a generation to whichever API instance follows
 * it. The embedded default is in-process; a Redis-backed bus carries it across hosts.
 */
public interface ProgressBus {

  static String channel(String generationId) {
    return "task:progress:" + generationId;
  }

  /** Publishes an event; the bus assigns its sequence number. Never blocks the caller for long. */
  ProgressEvent publish(ProgressEvent event);

  /** The latest event of a generation, if any is still known. */
  Optional<ProgressEvent> latest(String generationId);

  /** Follows a generation's events until the returned handle is closed. */
  AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener);
}
