package io.tempera.observability;

import io.temporal.api.workflowservice.v1.GetSystemInfoRequest;
import io.temporal.serviceclient.WorkflowServiceStubs;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * {@code temporal} in {@code /actuator/health} and the readiness group: UP while the Temporal
 * server answers a call (its system info) within the timeout, DOWN with the reason otherwise, and
 * UP again once it answers.
 */
public final class TemporalHealth implements HealthIndicator {

  private final Supplier<WorkflowServiceStubs> stubs;
  private final Duration timeout;

  public TemporalHealth(Supplier<WorkflowServiceStubs> stubs, Duration timeout) {
    this.stubs = stubs;
    this.timeout = timeout;
  }

  @Override
  public Health health() {
    try {
      stubs
          .get()
          .blockingStub()
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .getSystemInfo(GetSystemInfoRequest.getDefaultInstance());
      return Health.up().build();
    } catch (RuntimeException e) {
      return Health.down()
          .withDetail("reason", "the Temporal server does not answer: " + e.getMessage())
          .build();
    }
  }
}
