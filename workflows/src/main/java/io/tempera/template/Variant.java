package io.tempera.template;

import java.util.Map;

/**
 * An A/B variant of a function: a share ({@code weight}) of projects gets these tier settings on
 * top of the template's. A project always gets the same variant.
 */
public record Variant(
    String name, int weight, Map<QualityTier, Map<GraphTarget, Object>> qualityParameters) {

  public Variant {
    qualityParameters = Map.copyOf(qualityParameters);
  }
}
