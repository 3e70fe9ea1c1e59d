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

  /**
   * Tells a generation's followers that its workflow ended: an {@link ProgressEvent#ENDED} notice
   * on the generation's channel, not numbered and not kept as its latest event. Never blocks (it is
   * called from workflow code); a notice that is lost only makes a follower learn the end later.
   */
  void publishEnd(String generationId);

  /**
   * Whether every generation's end reaches this bus's subscribers: the worker publishes ends on a
   * shared bus, or on this process's own bus when a worker runs in this process ({@link
   * #endsPublishedHere}). Without, a follower must wait on Temporal for the end.
   */
  boolean carriesEnds();

  /** A worker of this process publishes generation ends on this bus. */
  void endsPublishedHere();

  /** The latest event of a generation, if any is still known. */
  Optional<ProgressEvent> latest(String generationId);

  /** Follows a generation's events until the returned handle is closed. */
  AutoCloseable subscribe(String generationId, Consumer<ProgressEvent> listener);
}
