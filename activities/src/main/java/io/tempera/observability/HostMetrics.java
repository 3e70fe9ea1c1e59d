package io.tempera.observability;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker host's slot meters: its slots and the runs on them now (utilisation), its leases and the
 * GPU memory leased on each of its GPUs, and its pool's queue of generations waiting for a slot.
 * Leases and the queue are the pool allocator's, read by its query every {@code every} (NaN while
 * the allocator does not answer). Prometheus names: {@code tempera_host_slots}, {@code
 * tempera_host_slots_busy}, {@code tempera_host_leases}, {@code tempera_host_lease_capacity},
 * {@code tempera_host_vram_mb}, {@code tempera_host_vram_leased_mb}, {@code tempera_pool_waiting}.
 */
public final class HostMetrics implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(HostMetrics.class);

  private final SlotAllocatorClient allocator;
  private final String pool;
  private final HostRegistration host;
  private final Duration every;
  private final IntSupplier runsNow;
  private final Map<Integer, Double> vramLeased = new ConcurrentHashMap<>();
  private volatile double leases = Double.NaN;
  private volatile double waiting = Double.NaN;
  private volatile Thread poller;

  public HostMetrics(
      MeterRegistry registry,
      SlotAllocatorClient allocator,
      String pool,
      HostRegistration host,
      IntSupplier runsNow,
      Duration every) {
    this.allocator = allocator;
    this.pool = pool;
    this.host = host;
    this.every = every;
    this.runsNow = runsNow;
    String id = host.hostId();
    Gauge.builder("tempera.host.slots", host, HostRegistration::runsAtOnce)
        .description("Runs this host's backends take at once (its slots)")
        .tag("host", id)
        .register(registry);
    // the gauge holds its object weakly: this (a bean) holds the supplier
    Gauge.builder("tempera.host.slots.busy", this, m -> m.runsNow.getAsInt())
        .description("Runs on this host's backends now; with tempera_host_slots, its utilisation")
        .tag("host", id)
        .register(registry);
    Gauge.builder("tempera.host.lease.capacity", host, HostRegistration::maxLeases)
        .description("Leases this host takes: its slots and the generations it holds ready")
        .tag("host", id)
        .register(registry);
    Gauge.builder("tempera.host.leases", this, m -> m.leases)
        .description("Leases the pool's allocator holds for this host (NaN: it does not answer)")
        .tag("host", id)
        .register(registry);
    for (Gpu gpu : host.gpus()) {
      vramLeased.put(gpu.index(), Double.NaN);
      Gauge.builder("tempera.host.vram.mb", gpu, Gpu::vramMb)
          .description("GPU memory this host offers its pool, in MB")
          .tag("host", id)
          .tag("gpu", Integer.toString(gpu.index()))
          .register(registry);
      Gauge.builder(
              "tempera.host.vram.leased.mb",
              vramLeased,
              m -> m.getOrDefault(gpu.index(), Double.NaN))
          .description("GPU memory leased on this host's GPU, in MB (NaN: the allocator is silent)")
          .tag("host", id)
          .tag("gpu", Integer.toString(gpu.index()))
          .register(registry);
    }
    Gauge.builder("tempera.pool.waiting", this, m -> m.waiting)
        .description("Generations waiting in the pool's queue for a slot (queue depth)")
        .tag("pool", pool)
        .register(registry);
  }

  /** Reads the allocator now and then every {@code every}, on a virtual thread. */
  public HostMetrics start() {
    poller =
        Thread.ofVirtual()
            .name("tempera-host-metrics")
            .start(() -> {
              while (!Thread.currentThread().isInterrupted()) {
                boolean read = refresh();
                try {
                  // not read (the allocator not started yet, Temporal away): again soon
                  Thread.sleep(read ? every.toMillis() : Math.min(every.toMillis(), 2_000));
                } catch (InterruptedException stop) {
                  return;
                }
              }
            });
    return this;
  }

  /** One read of the allocator's state; whether it answered. */
  boolean refresh() {
    try {
      apply(allocator.state(pool));
      return true;
    } catch (RuntimeException e) {
      leases = Double.NaN;
      waiting = Double.NaN;
      vramLeased.replaceAll((gpu, mb) -> Double.NaN);
      log.debug("slot pool {}: its allocator's state was not read: {}", pool, e.toString());
      return false;
    }
  }

  void apply(AllocatorState state) {
    Map<Integer, Double> leased = new ConcurrentHashMap<>();
    vramLeased.keySet().forEach(gpu -> leased.put(gpu, 0.0));
    int mine = 0;
    for (Lease lease : state.leases()) {
      if (host.hostId().equals(lease.hostId())) {
        mine++;
        leased.merge(lease.gpuIndex(), (double) lease.vramMb(), Double::sum);
      }
    }
    leased.forEach((gpu, mb) -> vramLeased.computeIfPresent(gpu, (g, old) -> mb));
    leases = mine;
    waiting = state.waiters().size();
  }

  @Override
  public void close() {
    Thread running = poller;
    if (running != null) {
      running.interrupt();
    }
  }
}
