package io.tempera.containers;

import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;

/**
 * A model host's meters, as a worker with {@code tempera.worker.docker.enabled} registers them (the
 * embedded system runs no Docker engine), for tests that check which meters exist.
 */
public final class ModelHostMeters {

  private ModelHostMeters() {}

  /** Registers the meters on {@code registry} and records one container start. */
  public static void register(MeterRegistry registry) {
    new ModelHostMetrics(registry, new ModelTable()).coldStart("a-model", Duration.ofSeconds(1));
  }
}
