package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {

  static final class ManualClock extends Clock {
    long millis;

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis);
    }
  }

  @Test
  void opensAfterRepeatedFailuresThenProbesOnceAfterTheCoolDown() {
    ManualClock clock = new ManualClock();
    CircuitBreaker breaker = new CircuitBreaker(3, Duration.ofSeconds(30), clock);
    breaker.onFailure();
    breaker.onFailure();
    assertThat(breaker.allow()).isTrue();
    breaker.onFailure();
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    assertThat(breaker.allow()).isFalse();
    assertThat(breaker.millisUntilProbe()).isEqualTo(30_000);

    clock.millis += 30_000;
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
    assertThat(breaker.allow()).as("one probe").isTrue();
    assertThat(breaker.allow()).as("only one").isFalse();
    breaker.onFailure();
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);

    clock.millis += 30_000;
    assertThat(breaker.allow()).isTrue();
    breaker.onSuccess();
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(breaker.allow()).isTrue();
  }

  @Test
  void aSuccessResetsTheFailureCount() {
    CircuitBreaker breaker = new CircuitBreaker(2, Duration.ofSeconds(1), new ManualClock());
    breaker.onFailure();
    breaker.onSuccess();
    breaker.onFailure();
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
  }
}
