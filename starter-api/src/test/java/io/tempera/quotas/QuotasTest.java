package io.tempera.quotas;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class QuotasTest {

  final AtomicLong now = new AtomicLong(1_800_000_000_000L);

  /** The allocators as a map: what they hold, and which holders they know. */
  final Map<String, Usage.Counts> held = new HashMap<>();

  final Set<String> inLine = new HashSet<>();
  int reads;

  final UsageSource source =
      holders -> {
        reads++;
        int waiting = held.values().stream().mapToInt(Usage.Counts::queued).sum();
        Set<String> known = new HashSet<>(holders);
        known.retainAll(inLine);
        return new UsageSource.Reading(
            new Usage(held, 0, waiting, 2, 0, 0, true, now.get()), known);
      };

  Quotas quotas(Integer maxQueued, int maxQueuedTotal) {
    return new Quotas(
        new QuotaProperties(
            new QuotaProperties.Limits(null, maxQueued, null),
            Map.of("big", new QuotaProperties.Limits(null, 100, null)),
            maxQueuedTotal,
            List.of("default"),
            Duration.ofSeconds(1)),
        source,
        now::get);
  }

  @Test
  void admissionsNotYetInLineCountSoOneInstanceNeverOvershoots() {
    Quotas quotas = quotas(2, 0);
    assertThat(quotas.admit("demo", "gen-a")).isNull();
    assertThat(quotas.admit("demo", "gen-b")).isNull();
    Admission.Refusal third = quotas.admit("demo", "gen-c");
    assertThat(third.code()).isEqualTo("QUOTA_QUEUED");
    assertThat(third.retryAfterSeconds()).isPositive();
    assertThat(quotas.admit("other", "gen-d")).as("another project is admitted").isNull();
    assertThat(quotas.admit("big", "gen-e")).as("its own limit over the default").isNull();
    assertThat(reads).as("counts read once a second, not at every admission").isEqualTo(1);
  }

  @Test
  void anAdmissionTheAllocatorKnowsIsCountedThereOnlyAndAWithdrawnOneNotAtAll() {
    Quotas quotas = quotas(2, 0);
    assertThat(quotas.admit("demo", "gen-a")).isNull();
    assertThat(quotas.admit("demo", "gen-b")).isNull();
    quotas.withdraw("gen-b"); // not started after all
    assertThat(quotas.admit("demo", "gen-c")).isNull();

    // both reached the allocator: counted there, not twice
    inLine.addAll(List.of("gen-a", "gen-c"));
    held.put(Quotas.keyOf("demo"), new Usage.Counts(0, 2, 1, 0));
    now.addAndGet(1_000);
    assertThat(quotas.admit("demo", "gen-d").code()).isEqualTo("QUOTA_QUEUED");
    Quotas.Report report = quotas.report(List.of("demo"));
    assertThat(report.projects())
        .as("the projects of the keys and of the settings")
        .extracting(Quotas.Report.Project::projectId)
        .containsExactly("big", "demo");
    assertThat(report.projects().get(1))
        .satisfies(p -> {
          assertThat(p.projectId()).isEqualTo("demo");
          assertThat(p.queued()).isEqualTo(2);
          assertThat(p.limits().maxQueued()).isEqualTo(2);
        });

    // one started: room again
    held.put(Quotas.keyOf("demo"), new Usage.Counts(1, 1, 1, 0));
    now.addAndGet(1_000);
    assertThat(quotas.admit("demo", "gen-e")).isNull();
  }

  @Test
  void anAdmissionNoAllocatorEverSawStopsCountingAfterAWhile() {
    Quotas quotas = quotas(1, 0);
    assertThat(quotas.admit("demo", "gen-a")).isNull();
    assertThat(quotas.admit("demo", "gen-b")).isNotNull();
    now.addAndGet(Quotas.PENDING_FOR + 1);
    assertThat(quotas.admit("demo", "gen-b")).isNull();
  }

  @Test
  void theGlobalBoundCountsEveryProjectsWaitingAndThisInstancesAdmissions() {
    Quotas quotas = quotas(null, 3);
    held.put(Quotas.keyOf("x"), new Usage.Counts(0, 2, 1, 0));
    assertThat(quotas.admit("demo", "gen-a")).isNull();
    Admission.Refusal full = quotas.admit("other", "gen-b");
    assertThat(full.code()).isEqualTo("QUEUE_FULL");
    Quotas.Report report = quotas.report(List.of());
    assertThat(report.queued()).isEqualTo(3);
    assertThat(report.maxQueuedTotal()).isEqualTo(3);
    assertThat(report.projects())
        .extracting(Quotas.Report.Project::projectId)
        .containsExactly("big", "demo", null); // x is known by its key only
  }
}
