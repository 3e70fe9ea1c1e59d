package io.tempera.activities;

import io.temporal.activity.ActivityExecutionContext;
import io.temporal.client.ActivityCompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a long activity heartbeating while it works, whatever it is blocked on: one shared
 * scheduler thread ticks for every running activity every {@link #EVERY_MILLIS}; each heartbeat (a
 * blocking call to the Temporal server when due) goes out on its own virtual thread, at most one
 * per activity on its way, so a hundred activities' calls never queue past their heartbeat timeout.
 * When the server answers that the activity was cancelled or timed out, the working thread is
 * interrupted and {@link #stopped()} says why. Use with try-with-resources on the activity's
 * thread.
 */
public final class Heartbeats implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Heartbeats.class);

  /** How often a running activity heartbeats even when it has nothing new to say. */
  public static final long EVERY_MILLIS = 2_000;

  private static final ScheduledExecutorService TICKER =
      Executors.newScheduledThreadPool(
          1, Thread.ofPlatform().daemon().name("tempera-heartbeat").factory());

  private final AtomicReference<ActivityCompletionException> stopped = new AtomicReference<>();
  private final ScheduledFuture<?> ticks;

  private Heartbeats(ActivityExecutionContext context, Supplier<?> details, Runnable onTick) {
    Thread worker = Thread.currentThread();
    AtomicBoolean beating = new AtomicBoolean();
    this.ticks =
        TICKER.scheduleAtFixedRate(
            () -> {
              if (onTick != null) {
                try {
                  onTick.run();
                } catch (RuntimeException e) {
                  log.warn("a heartbeat tick failed", e);
                }
              }
              if (!beating.compareAndSet(false, true)) {
                return;
              }
              Thread.ofVirtual()
                  .name("tempera-heartbeat-", 0)
                  .start(() -> {
                    try {
                      context.heartbeat(details.get());
                    } catch (ActivityCompletionException e) {
                      if (stopped.compareAndSet(null, e)) {
                        log.info(
                            "activity {} of {}: {}; stopping",
                            context.getInfo().getActivityType(),
                            context.getInfo().getWorkflowId(),
                            e.getClass().getSimpleName());
                        worker.interrupt();
                      }
                    } catch (RuntimeException e) {
                      log.debug("heartbeat failed", e);
                    } finally {
                      beating.set(false);
                    }
                  });
            },
            0,
            EVERY_MILLIS,
            TimeUnit.MILLISECONDS);
  }

  /** Heartbeats {@code details} (read at each beat) until closed. */
  public static Heartbeats start(ActivityExecutionContext context, Supplier<?> details) {
    return new Heartbeats(context, details, null);
  }

  /**
   * The same, running {@code onTick} (quick, non-blocking) before each beat: a watchdog's check.
   */
  public static Heartbeats start(
      ActivityExecutionContext context, Supplier<?> details, Runnable onTick) {
    return new Heartbeats(context, details, onTick);
  }

  /** Why the server stopped the activity (cancelled, timed out), or null while it may go on. */
  public ActivityCompletionException stopped() {
    return stopped.get();
  }

  /** Throws what stopped the activity, if the server did. */
  public void throwIfStopped() {
    ActivityCompletionException e = stopped.get();
    if (e != null) {
      throw e;
    }
  }

  /** Stops heartbeating and clears an interrupt it may have left on this thread. */
  @Override
  public void close() {
    ticks.cancel(false);
    Thread.interrupted();
  }
}
