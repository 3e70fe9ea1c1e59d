package io.tempera.template;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.List;

/**
 * What a quality tier means for a function's pipeline (seed 003's pipeline configuration). Every
 * field is optional; {@code timeoutSeconds} overrides the template's timeout at this tier and
 * {@code vramMb} is what a slot for it must offer (the tier's model's need when not set). {@code
 * model} is the model registry id the tier runs on (null: the worker's configured backend); it is
 * never shown to users.
 */
public record TierConfig(
    Integer steps,
    Integer resolution,
    String sampler,
    Integer vramMb,
    List<String> optimizations,
    Integer maxConcurrent,
    Integer timeoutSeconds,
    @JsonIgnore String model,
    @JsonIgnore io.tempera.generation.PhaseTimeouts timeouts) {

  public TierConfig {
    optimizations = optimizations == null ? List.of() : List.copyOf(optimizations);
  }

  public TierConfig(
      Integer steps,
      Integer resolution,
      String sampler,
      Integer vramMb,
      List<String> optimizations,
      Integer maxConcurrent,
      Integer timeoutSeconds) {
    this(
        steps,
        resolution,
        sampler,
        vramMb,
        optimizations,
        maxConcurrent,
        timeoutSeconds,
        null,
        null);
  }

  public TierConfig(
      Integer steps,
      Integer resolution,
      String sampler,
      Integer vramMb,
      List<String> optimizations,
      Integer maxConcurrent,
      Integer timeoutSeconds,
      String model) {
    this(
        steps,
        resolution,
        sampler,
        vramMb,
        optimizations,
        maxConcurrent,
        timeoutSeconds,
        model,
        null);
  }

  /** The same configuration needing {@code vramMb}. */
  public TierConfig withVramMb(Integer vramMb) {
    return new TierConfig(
        steps,
        resolution,
        sampler,
        vramMb,
        optimizations,
        maxConcurrent,
        timeoutSeconds,
        model,
        timeouts);
  }
}
