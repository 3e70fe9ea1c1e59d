package io.tempera.generation;

import io.tempera.slots.Lease;
import io.temporal.activity.ActivityCancellationType;
import io.temporal.activity.ActivityOptions;
import io.temporal.activity.LocalActivityOptions;
import io.temporal.common.RetryOptions;
import java.time.Duration;

/**
 * The time limits and retry policy of each step of a generation, in one place. The steps after the
 * lease run on the leased host's own task queue; a host queue nobody serves for {@link
 * #HOST_SCHEDULE_TO_START} means the host is gone. Every long step heartbeats within {@link
 * #HEARTBEAT}, so a dead worker is noticed in seconds and a cancel reaches it.
 */
final class GenerationActivityOptions {

  static final Duration HOST_SCHEDULE_TO_START = Duration.ofMinutes(5);
  static final Duration HEARTBEAT = Duration.ofSeconds(10);

  private GenerationActivityOptions() {}

  private static RetryOptions.Builder retry() {
    return RetryOptions.newBuilder().setDoNotRetry(ErrorCode.permanentTypes());
  }

  /** Planning: in memory on the workflow's worker, a few quick tries. */
  static LocalActivityOptions planning() {
    return LocalActivityOptions.newBuilder()
        .setStartToCloseTimeout(Duration.ofSeconds(10))
        .setRetryOptions(retry().setMaximumAttempts(3).build())
        .build();
  }

  /**
   * Asking the allocator for a lease: a quick call (the lease follows by signal when it has to
   * wait). A cancel waits for the call to finish, so the release that follows always comes after
   * it.
   */
  static ActivityOptions lease(Duration slotWait, GenerationPlan plan) {
    return ActivityOptions.newBuilder()
        .setSummary(GenerationSummaries.lease(plan))
        .setStartToCloseTimeout(Duration.ofSeconds(30))
        .setScheduleToCloseTimeout(slotWait)
        .setCancellationType(ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        .setRetryOptions(
            retry()
                .setInitialInterval(Duration.ofMillis(500))
                .setMaximumInterval(Duration.ofSeconds(10))
                .build())
        .build();
  }

  /** Starting the model's container: bounded by its start timeout, a few tries. */
  static ActivityOptions modelStart(Lease lease, GenerationPlan plan) {
    int seconds = plan.model().startTimeoutSeconds() > 0 ? plan.model().startTimeoutSeconds() : 300;
    return onHost(lease)
        .setSummary(GenerationSummaries.modelStart(lease, plan))
        .setStartToCloseTimeout(Duration.ofSeconds(seconds + 10))
        .setHeartbeatTimeout(HEARTBEAT)
        .setRetryOptions(
            retry().setInitialInterval(Duration.ofSeconds(2)).setMaximumAttempts(3).build())
        .build();
  }

  /**
   * Running on the backend: the template's time limit, counted by the run's activity from when the
   * run gets its turn on the host's GPU (a generation leased ahead waits there for the run before
   * it), so the attempt's own limit is twice that; a retried attempt re-attaches to the same run.
   */
  static ActivityOptions run(Lease lease, GenerationPlan plan) {
    return onHost(lease)
        .setSummary(GenerationSummaries.run(lease, plan))
        .setStartToCloseTimeout(Duration.ofSeconds(2L * Math.max(10, plan.timeoutSeconds())))
        .setHeartbeatTimeout(HEARTBEAT)
        .setRetryOptions(
            retry()
                .setInitialInterval(Duration.ofSeconds(1))
                .setMaximumInterval(Duration.ofSeconds(10))
                .setMaximumAttempts(4)
                .build())
        .build();
  }

  /** Collecting the outputs: the plan's output timeout, a few tries. */
  static ActivityOptions outputs(Lease lease, GenerationPlan plan, int files) {
    return onHost(lease)
        .setSummary(GenerationSummaries.collect(lease, files))
        .setStartToCloseTimeout(plan.timeouts().output())
        .setHeartbeatTimeout(HEARTBEAT)
        .setRetryOptions(
            retry().setInitialInterval(Duration.ofSeconds(1)).setMaximumAttempts(3).build())
        .build();
  }

  /**
   * Cleanup (releasing the model, stopping a run) must happen: retried for up to 10 minutes. The
   * summary says which.
   */
  static ActivityOptions cleanup(Lease lease, String summary) {
    return onHost(lease)
        .setSummary(summary)
        .setStartToCloseTimeout(Duration.ofSeconds(30))
        .setScheduleToCloseTimeout(Duration.ofMinutes(10))
        .setRetryOptions(
            RetryOptions.newBuilder()
                .setInitialInterval(Duration.ofMillis(500))
                .setMaximumInterval(Duration.ofSeconds(10))
                .build())
        .build();
  }

  private static ActivityOptions.Builder onHost(Lease lease) {
    return ActivityOptions.newBuilder()
        .setTaskQueue(lease.taskQueue())
        .setScheduleToStartTimeout(HOST_SCHEDULE_TO_START);
  }
}
