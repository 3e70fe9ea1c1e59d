package io.tempera.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseRequest;
import io.tempera.slots.Waiter;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Metric tags stay bounded whatever requests say; a host's slot meters read the allocator. */
class MetricTagsAndHostMetricsTest {

  @Test
  void tiersAndErrorsAreTheKnownOnesOrOther() {
    assertThat(MetricTags.tier("High")).isEqualTo("high");
    assertThat(MetricTags.tier("premium-" + "x".repeat(100))).isEqualTo("other");
    assertThat(MetricTags.tier(null)).isEqualTo("none");
    assertThat(MetricTags.error("OUT_OF_GPU_MEMORY")).isEqualTo("OUT_OF_GPU_MEMORY");
    assertThat(MetricTags.error("java.lang.IllegalStateException")).isEqualTo("OTHER");
    assertThat(MetricTags.backend("comfyui")).isEqualTo("comfyui");
    assertThat(MetricTags.backend("Robert'); DROP")).isEqualTo("other");
  }

  @Test
  void functionIdsAreCappedSoRequestsCannotGrowTheSeries() {
    assertThat(MetricTags.function("not an id {}")).isEqualTo("other");
    assertThat(MetricTags.function("invert")).isEqualTo("invert");
    MetricTags.BoundedValues ids = new MetricTags.BoundedValues(3);
    Set<String> tags = new HashSet<>();
    for (int i = 0; i < 10; i++) {
      tags.add(ids.of("fn-" + i));
    }
    assertThat(tags).containsExactlyInAnyOrder("fn-0", "fn-1", "fn-2", "other");
    assertThat(ids.of("fn-1")).as("one seen before keeps its tag").isEqualTo("fn-1");
  }

  @Test
  void aHostsLeasesAndGpuMemoryAreReadFromItsPoolsAllocatorAndNaNWhileItIsSilent() {
    MeterRegistry registry = new SimpleMeterRegistry();
    HostRegistration host =
        new HostRegistration(
            "h1", "tempera-host-h1", List.of(new Gpu(0, 24_000), new Gpu(1, 48_000)), 3, 2);
    // a supplier nothing else holds, as the worker's method reference (a gauge holds its object
    // weakly: HostMetrics must hold it)
    HostMetrics metrics =
        new HostMetrics(
            registry,
            null,
            "p",
            host,
            new java.util.concurrent.atomic.AtomicInteger(1)::get,
            Duration.ofHours(1));
    System.gc();

    assertThat(gauge(registry, "tempera.host.slots")).isEqualTo(2.0);
    assertThat(gauge(registry, "tempera.host.slots.busy")).isEqualTo(1.0);
    assertThat(gauge(registry, "tempera.host.lease.capacity")).isEqualTo(3.0);
    assertThat(gauge(registry, "tempera.host.leases")).isNaN();
    assertThat(gauge(registry, "tempera.pool.waiting")).isNaN();

    metrics.apply(
        new AllocatorState(
            "p",
            List.of(host),
            List.of(
                new Lease("l1", "p", "gen-a", "h1", "tempera-host-h1", 0, 8_000),
                new Lease("l2", "p", "gen-b", "h1", "tempera-host-h1", 0, 4_000),
                new Lease("l3", "p", "gen-c", "h2", "tempera-host-h2", 0, 16_000)),
            List.of(new Waiter(new LeaseRequest("gen-d", 0, "invert", "high"), 1)),
            7,
            AllocatorSettings.defaults(),
            List.of(),
            List.of()));

    assertThat(gauge(registry, "tempera.host.leases")).isEqualTo(2.0);
    assertThat(registry.get("tempera.host.vram.leased.mb").tag("gpu", "0").gauge().value())
        .isEqualTo(12_000.0);
    assertThat(registry.get("tempera.host.vram.leased.mb").tag("gpu", "1").gauge().value())
        .isZero();
    assertThat(gauge(registry, "tempera.pool.waiting")).isEqualTo(1.0);

    // the allocator no longer answers (no client here: every read fails)
    assertThat(metrics.refresh()).isFalse();
    assertThat(gauge(registry, "tempera.host.leases")).isNaN();
    assertThat(registry.get("tempera.host.vram.leased.mb").tag("gpu", "0").gauge().value()).isNaN();
  }

  private static double gauge(MeterRegistry registry, String name) {
    return registry.get(name).gauge().value();
  }
}
