package io.tempera.config;

import io.tempera.generation.PriorityLevel;
import io.tempera.template.QualityTier;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Priorities and fair share ({@code tempera.scheduling.*}).
 *
 * @param weights each project's weight in a pool's fair share between projects waiting at the same
 *     priority ({@code tempera.scheduling.weights.<project>=3}); a project not named has 1
 * @param tierPriorities the priority a generation of a tier gets when its request names none, and
 *     the highest a project key may ask for ({@code
 *     tempera.scheduling.tier-priorities.draft=interactive}); by default draft interactive,
 *     standard and high normal, ultra low
 */
@ConfigurationProperties("tempera.scheduling")
public record SchedulingProperties(
    Map<String, Integer> weights, Map<String, String> tierPriorities) {

  public SchedulingProperties {
    weights = weights == null ? Map.of() : Map.copyOf(weights);
    tierPriorities = tierPriorities == null ? Map.of() : Map.copyOf(tierPriorities);
    weights.forEach((project, weight) -> {
      if (weight == null || weight < 1 || weight > 1_000) {
        throw new IllegalArgumentException(
            "tempera.scheduling.weights."
                + project
                + " must be a whole number from 1 to 1000, not "
                + weight);
      }
    });
    tierPriorities.forEach((tier, level) -> {
      if (QualityTier.fromId(tier) == null || PriorityLevel.fromId(level) == null) {
        throw new IllegalArgumentException(
            "tempera.scheduling.tier-priorities."
                + tier
                + "="
                + level
                + ": the tier must be draft, standard, high or ultra and the priority urgent,"
                + " interactive, normal, low or batch");
      }
    });
  }

  public static SchedulingProperties defaults() {
    return new SchedulingProperties(Map.of(), Map.of());
  }

  /** The project's weight in fair share (1 unless configured). */
  public int weightOf(String project) {
    return weights.getOrDefault(project, 1);
  }

  /** The default priority of a generation of this tier. */
  public PriorityLevel defaultFor(QualityTier tier) {
    String configured = tierPriorities.get(tier.id());
    return configured != null ? PriorityLevel.fromId(configured) : PriorityLevel.defaultFor(tier);
  }
}
