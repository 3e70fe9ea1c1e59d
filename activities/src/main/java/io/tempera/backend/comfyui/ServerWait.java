package io.tempera.backend.comfyui;

import io.tempera.backend.comfyui.ComfyUiException.Kind;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits through a ComfyUI server that stopped answering (a restart, a crash the host restarts): a
 * call that cannot connect is tried again with backoff, the run's listener told that it waits,
 * until the server answers or {@code grace} has passed since it stopped. Only calls that are safe
 * to repeat go through it (reads, and the WebSocket); a submit is never repeated blindly, see
 * {@link ComfyUiClient#run}.
 */
final class ServerWait {

  private static final Logger log = LoggerFactory.getLogger(ServerWait.class);
  private static final long FIRST_PAUSE_MILLIS = 500;
  private static final long LONGEST_PAUSE_MILLIS = 5_000;

  private final String server;
  private final Duration grace;
  private volatile Runnable waiting;
  private final java.util.function.BooleanSupplier stopped;
  private long downSince = -1;
  private long pauseMillis = FIRST_PAUSE_MILLIS;
  private boolean wentDown;

  /**
   * @param waiting told before each pause (the run shows that it waits for the server)
   */
  /**
   * @param stopped true once the client closes: nothing more is waited for
   */
  ServerWait(
      String server, Duration grace, Runnable waiting, java.util.function.BooleanSupplier stopped) {
    this.server = server;
    this.grace = grace;
    this.waiting = waiting;
    this.stopped = stopped;
  }

  /** Who is told from now on before each pause. */
  void tell(Runnable waiting) {
    this.waiting = waiting;
  }

  /** The call's answer, once the server answers it. */
  <T> T through(Supplier<T> call) {
    while (true) {
      try {
        T answer = call.get();
        answered();
        return answer;
      } catch (ComfyUiException e) {
        if (e.kind() != Kind.UNREACHABLE) {
          throw e;
        }
        pause(e);
      }
    }
  }

  /** Whether the server stopped answering at some point of this run (it may have lost the run). */
  boolean wentDown() {
    return wentDown;
  }

  private void answered() {
    if (downSince >= 0) {
      log.info(
          "ComfyUI {} answers again after {} s",
          server,
          (System.nanoTime() - downSince) / 1_000_000_000);
    }
    downSince = -1;
    pauseMillis = FIRST_PAUSE_MILLIS;
  }

  /**
   * Waits a little before the next try, or throws when the server has not answered for {@code
   * grace}.
   */
  void pause(ComfyUiException why) {
    if (stopped.getAsBoolean()) {
      throw new ComfyUiException(
          Kind.ABORTED,
          "the ComfyUI client was closed while waiting for the server",
          null,
          null,
          why);
    }
    if (grace.isZero()) {
      throw why; // nothing is waited for: the caller has its own way back (a restarted container)
    }
    long now = System.nanoTime();
    if (downSince < 0) {
      downSince = now;
      wentDown = true;
      log.warn(
          "ComfyUI {} does not answer ({}); waiting up to {} s for it to come back",
          server,
          why.getMessage(),
          grace.toSeconds());
    }
    if (now - downSince >= grace.toNanos()) {
      throw new ComfyUiException(
          Kind.UNREACHABLE,
          "it did not answer for " + grace.toSeconds() + " s (" + why.getMessage() + ")",
          null,
          null,
          why);
    }
    waiting.run();
    try {
      Thread.sleep(pauseMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComfyUiException(
          Kind.ABORTED, "interrupted while waiting for ComfyUI to come back", null, null, e);
    }
    pauseMillis = Math.min(LONGEST_PAUSE_MILLIS, pauseMillis * 2);
  }
}
