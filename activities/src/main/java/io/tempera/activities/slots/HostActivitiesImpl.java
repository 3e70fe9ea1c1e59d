package io.tempera.activities.slots;

import io.tempera.slots.HostActivities;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.HostWatch;
import io.temporal.activity.Activity;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.client.ActivityCanceledException;
import io.temporal.client.ActivityCompletionException;
import io.temporal.client.ActivityWorkerShutdownException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's liveness, heartbeated to its pool's allocator: while the process runs and reaches
 * Temporal, the watch's heartbeats arrive; when they stop (killed, cut off, hung), the allocator
 * takes the host as lost within its host timeout.
 */
public class HostActivitiesImpl implements HostActivities {

  private static final Logger log = LoggerFactory.getLogger(HostActivitiesImpl.class);

  /** How often a heartbeat is offered (the SDK sends at most one per 80 % of the timeout). */
  static final Duration BEAT = Duration.ofSeconds(1);

  private final SlotAllocatorClient allocator;
  private final HostRegistration self;

  public HostActivitiesImpl(SlotAllocatorClient allocator, HostRegistration self) {
    this.allocator = allocator;
    this.self = self;
  }

  @Override
  public void keepAlive(HostWatch watch) {
    ActivityExecutionContext context = Activity.getExecutionContext();
    long until = System.nanoTime() + Duration.ofSeconds(Math.max(1, watch.forSeconds())).toNanos();
    try {
      while (System.nanoTime() < until) {
        context.heartbeat(watch.epoch());
        Thread.sleep(BEAT.toMillis());
      }
    } catch (ActivityCanceledException superseded) {
      // a newer watch (after a registration) took over
    } catch (ActivityWorkerShutdownException stopping) {
      // this worker stops: the watch is left to time out, so a host restarted within the timeout
      // keeps its leases (its runs re-attach) and one that stays away is lost
      context.doNotCompleteOnReturn();
    } catch (ActivityCompletionException forgotten) {
      // not found: the allocator's run continued as new, or it took this host as lost (the watch
      // timed out); or the server ended the watch otherwise: register again, so it places work
      // here again
      registerAgain(watch);
    } catch (InterruptedException stop) {
      context.doNotCompleteOnReturn(); // the worker stops (see above)
      Thread.currentThread().interrupt();
    }
  }

  private void registerAgain(HostWatch watch) {
    try {
      allocator.registerHost(watch.pool(), self);
      log.info(
          "host {}: its watch {} is no longer known to slot pool {}; registered again",
          self.hostId(),
          watch.epoch(),
          watch.pool());
    } catch (RuntimeException e) {
      log.warn(
          "host {}: registering again with slot pool {} failed ({}); the periodic registration"
              + " will",
          self.hostId(),
          watch.pool(),
          e.getMessage());
    }
  }
}
