package io.tempera.activities.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RunWatchdogTest {

  /** A run limit the tests of the other trips never reach. */
  static final Duration AN_HOUR = Duration.ofHours(1);

  final AtomicLong now = new AtomicLong(1_000);
  final RunWatchdog watchdog =
      new RunWatchdog(Duration.ofSeconds(60), Duration.ofSeconds(10), AN_HOUR, now::get);

  void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  @org.junit.jupiter.api.BeforeEach
  void theRunStarts() {
    watchdog.arm();
  }

  @Test
  void theRunsTimeLimitCountsFromItsTurnNotFromTheWaitBeforeIt() {
    RunWatchdog limited =
        new RunWatchdog(
            Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(120), now::get);
    advance(Duration.ofMinutes(5)); // waiting for its turn on the host's GPU
    limited.arm();
    for (int i = 0; i < 11; i++) {
      advance(Duration.ofSeconds(9));
      limited.onProgress(null);
      assertThat(limited.check()).isNull();
    }
    advance(Duration.ofSeconds(22));
    limited.onProgress(null);
    assertThat(limited.check()).isEqualTo(RunWatchdog.Trip.RUN_TIME);
    assertThat(limited.describe(RunWatchdog.Trip.RUN_TIME))
        .isEqualTo("The generator took longer than 2 minutes");
  }

  @Test
  void nothingTripsBeforeTheRunStarts() {
    RunWatchdog waiting =
        new RunWatchdog(Duration.ofSeconds(60), Duration.ofSeconds(10), AN_HOUR, now::get);
    advance(Duration.ofMinutes(5)); // e.g. waiting for the model's restarted container
    assertThat(waiting.check()).isNull();
    waiting.arm();
    advance(Duration.ofSeconds(9));
    assertThat(waiting.check()).isNull();
    advance(Duration.ofSeconds(2));
    assertThat(waiting.check()).isEqualTo(RunWatchdog.Trip.STALLED);
  }

  @Test
  void progressKeepsARunGoingAndSilenceLongerThanTheStallLimitTripsItOnce() {
    for (int i = 0; i < 5; i++) {
      advance(Duration.ofSeconds(9));
      watchdog.onProgress(null);
      assertThat(watchdog.check()).isNull();
    }
    advance(Duration.ofSeconds(11));
    assertThat(watchdog.check()).isEqualTo(RunWatchdog.Trip.STALLED);
    assertThat(watchdog.check()).as("reported once").isNull();
    assertThat(watchdog.tripped()).isEqualTo(RunWatchdog.Trip.STALLED);
    assertThat(watchdog.describe(RunWatchdog.Trip.STALLED))
        .isEqualTo("The generator made no progress for 10 s; the run was stopped");
  }

  @Test
  void aRunThatNeverReportsAnythingStallsToo() {
    advance(Duration.ofSeconds(10));
    assertThat(watchdog.check()).isNull();
    advance(Duration.ofSeconds(1));
    assertThat(watchdog.check()).isEqualTo(RunWatchdog.Trip.STALLED);
  }

  @Test
  void waitingInTheBackendsQueueIsBoundedByTheQueueWaitNotTheStallLimit() {
    watchdog.onProgress(3);
    advance(Duration.ofSeconds(30)); // silent in the queue for longer than the stall limit: fine
    assertThat(watchdog.check()).isNull();
    watchdog.onProgress(1); // moving up keeps the queue clock running from the first report
    advance(Duration.ofSeconds(31));
    assertThat(watchdog.check()).isEqualTo(RunWatchdog.Trip.QUEUE_WAIT);
    assertThat(watchdog.describe(RunWatchdog.Trip.QUEUE_WAIT)).contains("within 60 s");
  }

  @Test
  void leavingTheQueueStartsTheStallClock() {
    watchdog.onProgress(1);
    advance(Duration.ofSeconds(50));
    watchdog.onProgress(null); // started
    advance(Duration.ofSeconds(9));
    assertThat(watchdog.check()).isNull();
    advance(Duration.ofSeconds(2));
    assertThat(watchdog.check()).isEqualTo(RunWatchdog.Trip.STALLED);
  }
}
