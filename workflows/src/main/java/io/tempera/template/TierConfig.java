package io.tempera.template;

import java.util.List;

/**
 * What a quality tier means for a function's pipeline (seed 003's pipeline configuration). Every
 * field is optional; {@code timeoutSeconds} overrides the template's timeout at this tier and
 * {@code vramMb} is what a slot for it must offer.
 */
public record TierConfig(
    Integer steps,
    Integer resolution,
    String sampler,
    Integer vramMb,
    List<String> optimizations,
    Integer maxConcurrent,
    Integer timeoutSeconds) {

  public TierConfig {
    optimizations = optimizations == null ? List.of() : List.copyOf(optimizations);
  }
}
