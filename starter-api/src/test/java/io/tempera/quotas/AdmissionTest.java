package io.tempera.quotas;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class AdmissionTest {

  static final long NOW = 1_800_000_000_000L + 15 * 60_000; // 15 min into an hour
  static final QuotaProperties.Limits NONE = QuotaProperties.Limits.NONE;

  static Usage pool(int held, int waiting, long finished, double meanMillis) {
    return new Usage(Map.of(), held, waiting, 8, finished, meanMillis, true, NOW);
  }

  @Test
  void withoutLimitsEverythingIsAdmittedUpToTheGlobalBound() {
    Usage.Counts busy = new Usage.Counts(50, 500, 1, 10_000_000);
    assertThat(Admission.check("demo", NONE, 0, busy, pool(8, 999, 0, 0), 999, NOW)).isNull();
    assertThat(Admission.check("demo", NONE, 1000, busy, pool(8, 999, 0, 0), 999, NOW)).isNull();

    Admission.Refusal full =
        Admission.check("demo", NONE, 1000, busy, pool(8, 1000, 20, 40_000), 1000, NOW);
    assertThat(full.code()).isEqualTo("QUEUE_FULL");
    assertThat(full.message()).contains("1000 generations wait").contains("try again");
    // a lease of the 8 held ends every 40/8 = 5 s
    assertThat(full.retryAfterSeconds()).isEqualTo(5);
  }

  @Test
  void aProjectAtItsQueuedLimitIsRefusedWithItsFirstPlacesWait() {
    QuotaProperties.Limits limits = new QuotaProperties.Limits(null, 20, null);
    Usage usage = pool(4, 30, 10, 30_000);
    Admission.Refusal refused =
        Admission.check("demo", limits, 0, new Usage.Counts(4, 20, 3, 0), usage, 30, NOW);
    assertThat(refused.code()).isEqualTo("QUOTA_QUEUED");
    assertThat(refused.message())
        .isEqualTo(
            "Project demo already has 20 generations waiting, its limit; try again when some"
                + " have started.");
    // its first waits at place 3; a lease of the 4 held ends every 30/4 s: 3 × 7.5 = 22.5
    assertThat(refused.retryAfterSeconds()).isEqualTo(23);
    assertThat(Admission.check("demo", limits, 0, new Usage.Counts(4, 19, 3, 0), usage, 30, NOW))
        .isNull();
  }

  @Test
  void aProjectAtItsRunningLimitIsRefusedUntilOneOfItsRunsEnds() {
    QuotaProperties.Limits limits = new QuotaProperties.Limits(2, null, null);
    Admission.Refusal refused =
        Admission.check(
            "demo", limits, 0, new Usage.Counts(2, 0, 0, 0), pool(6, 0, 3, 60_000), 0, NOW);
    assertThat(refused.code()).isEqualTo("QUOTA_RUNNING");
    assertThat(refused.message()).contains("already runs 2 generations, its limit");
    assertThat(refused.retryAfterSeconds()).isEqualTo(30); // 60 s / 2 running
  }

  @Test
  void gpuTimeOverTheHourIsRefusedUntilTheNextHour() {
    QuotaProperties.Limits limits = new QuotaProperties.Limits(null, null, 600L);
    Admission.Refusal refused =
        Admission.check(
            "demo", limits, 0, new Usage.Counts(0, 0, 0, 600_000), pool(0, 0, 0, 0), 0, NOW);
    assertThat(refused.code()).isEqualTo("QUOTA_GPU_TIME");
    assertThat(refused.message()).contains("used 600 GPU-seconds this hour, its limit is 600");
    assertThat(refused.retryAfterSeconds()).isEqualTo(45 * 60);
    assertThat(
            Admission.check(
                "demo", limits, 0, new Usage.Counts(0, 0, 0, 599_999), pool(0, 0, 0, 0), 0, NOW))
        .isNull();
  }

  @Test
  void beforeAnyLeaseWasMeasuredTheWaitIsTheDocumentedGuessAndNeverZero() {
    QuotaProperties.Limits limits = new QuotaProperties.Limits(null, 1, null);
    Admission.Refusal refused =
        Admission.check("demo", limits, 0, new Usage.Counts(0, 1, 0, 0), pool(0, 0, 0, 0), 1, NOW);
    // nothing held, its one generation not yet in line: place 1 of an empty line
    assertThat(refused.retryAfterSeconds()).isEqualTo(Admission.UNMEASURED_SECONDS);
    Admission.Refusal quick =
        Admission.check("demo", limits, 0, new Usage.Counts(0, 1, 1, 0), pool(8, 1, 5, 10), 1, NOW);
    assertThat(quick.retryAfterSeconds()).isEqualTo(1);
  }
}
