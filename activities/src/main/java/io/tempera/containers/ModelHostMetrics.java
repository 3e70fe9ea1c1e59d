package io.tempera.containers;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The meters of a model host: evictions, restarts, crashes, idle stops, cold starts and running
 * containers.
 */
final class ModelHostMetrics {

  private final MeterRegistry registry;
  final Counter evictions;
  final Counter restarts;
  final Counter crashes;
  final Counter idleStops;

  ModelHostMetrics(MeterRegistry registry, ModelTable table) {
    this.registry = registry;
    this.evictions =
        Counter.builder("tempera.model.evictions")
            .description("Idle model containers stopped to free GPU memory")
            .register(registry);
    this.restarts =
        Counter.builder("tempera.model.restarts")
            .description("Crashed model containers restarted")
            .register(registry);
    this.crashes =
        Counter.builder("tempera.model.crashes")
            .description("Model containers that exited or stopped answering")
            .register(registry);
    this.idleStops =
        Counter.builder("tempera.model.idle.stops")
            .description("Model containers stopped after being idle")
            .register(registry);
    Gauge.builder("tempera.model.containers.running", table, ModelTable::runningCount)
        .description("Model containers this host runs")
        .register(registry);
  }

  /** A model's container started and became healthy in {@code took}. */
  void coldStart(String modelId, Duration took) {
    Timer.builder("tempera.model.cold.start")
        .description("Starting a model container until it is healthy")
        .tag("model", modelId)
        .register(registry)
        .record(took);
  }
}
