package io.tempera.webhooks;

import io.temporal.activity.ActivityOptions;
import io.temporal.common.RetryOptions;
import io.temporal.failure.ActivityFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.time.Instant;
import java.util.Random;
import org.slf4j.Logger;

/**
 * Each attempt is an activity of its own (one HTTP POST, never retried by Temporal), so that every
 * attempt — its time, the receiver's status or the error — is in the history and in {@link
 * #state()}; the wait between attempts is a durable timer, so a delivery survives restarts of the
 * API and the workers alike.
 */
public class WebhookDeliveryWorkflowImpl implements WebhookDeliveryWorkflow {

  private static final Logger log = Workflow.getLogger(WebhookDeliveryWorkflowImpl.class);

  /** Longer than an attempt's own HTTP time limits: only a lost worker runs into it. */
  static final Duration ATTEMPT_LIMIT = Duration.ofMinutes(2);

  /** The share of a wait that is jitter, so failed receivers are not hit in lockstep. */
  static final double JITTER = 0.2;

  private final WebhookActivities webhooks =
      Workflow.newActivityStub(
          WebhookActivities.class,
          ActivityOptions.newBuilder()
              .setStartToCloseTimeout(ATTEMPT_LIMIT)
              .setRetryOptions(RetryOptions.newBuilder().setMaximumAttempts(1).build())
              .build());

  private WebhookDeliveryState state;

  @Override
  public WebhookDeliveryState deliver(WebhookEvent event) {
    state = WebhookDeliveryState.pending(event);
    WebhookRetry retry = event.webhook().retry();
    long first = Workflow.currentTimeMillis();
    Random jitter = Workflow.newRandom();
    for (int number = 1; ; number++) {
      WebhookAttempt attempt = attempt(event, number);
      state = state.with(attempt);
      if (attempt.delivered()) {
        state = state.delivered();
        return state;
      }
      if (!attempt.retryable()) {
        state = state.failed("The receiver refused the event: " + attempt.error());
        log.info("webhook {}: {}", event.id(), state.reason());
        return state;
      }
      long wait = retry.backoffMillis(number);
      wait += (long) (wait * JITTER * jitter.nextDouble());
      if (attempt.retryAfterMillis() != null) {
        wait = Math.max(wait, Math.min(attempt.retryAfterMillis(), retry.maximumIntervalMillis()));
      }
      long next = Workflow.currentTimeMillis() + wait;
      if (next - first > retry.giveUpAfterMillis()) {
        state =
            state.failed(
                "Gave up after "
                    + number
                    + " attempt"
                    + (number == 1 ? "" : "s")
                    + " over "
                    + Duration.ofMillis(Workflow.currentTimeMillis() - first).toSeconds()
                    + " s; the last: "
                    + attempt.error());
        log.warn("webhook {}: {}", event.id(), state.reason());
        return state;
      }
      state = state.retryingAt(Instant.ofEpochMilli(next).toString());
      Workflow.sleep(Duration.ofMillis(wait));
    }
  }

  private WebhookAttempt attempt(WebhookEvent event, int number) {
    String at = Instant.ofEpochMilli(Workflow.currentTimeMillis()).toString();
    try {
      return webhooks.post(new WebhookPost(event, number)).madeAt(at);
    } catch (ActivityFailure failure) {
      Throwable cause = failure.getCause() == null ? failure : failure.getCause();
      return WebhookAttempt.unfinished(
          number, at, "The attempt did not finish (" + cause.getMessage() + "); it is tried again");
    }
  }

  @Override
  public WebhookDeliveryState state() {
    return state;
  }
}
