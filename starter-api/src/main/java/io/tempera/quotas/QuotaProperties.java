package io.tempera.quotas;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * What a project may have in flight, and how deep the whole queue may grow ({@code
 * tempera.quotas.*}). Every limit left out is no limit, except the global queue bound.
 *
 * @param defaults every project's limits ({@code tempera.quotas.defaults.*})
 * @param projects one project's limits, over the defaults field by field ({@code
 *     tempera.quotas.projects.<projectId>.*}; a project id with a dot in brackets: {@code
 *     projects[my.project]})
 * @param maxQueuedTotal the most generations waiting for a GPU, all projects together (default 20
 *     000; 0: no bound)
 * @param pools the slot pools whose allocators are asked (default {@code default})
 * @param countsFresh how old the counts read from the allocators may be when a generation is
 *     admitted (default 1 s); the API's own admissions since are counted on top
 */
@ConfigurationProperties("tempera.quotas")
public record QuotaProperties(
    Limits defaults,
    Map<String, Limits> projects,
    Integer maxQueuedTotal,
    List<String> pools,
    Duration countsFresh) {

  /** The default of {@code tempera.quotas.max-queued-total}. */
  public static final int DEFAULT_MAX_QUEUED_TOTAL = 20_000;

  /**
   * One project's limits; null is no limit.
   *
   * @param maxRunning while the project has this many generations holding a GPU, new ones are
   *     refused ({@code QUOTA_RUNNING})
   * @param maxQueued while this many of its generations wait for a GPU, new ones are refused
   *     ({@code QUOTA_QUEUED})
   * @param gpuSecondsPerHour once its generations held GPUs this long in the clock hour (UTC), new
   *     ones are refused until the next hour ({@code QUOTA_GPU_TIME})
   */
  public record Limits(Integer maxRunning, Integer maxQueued, Long gpuSecondsPerHour) {

    public static final Limits NONE = new Limits(null, null, null);

    public Limits {
      requireNotNegative("max-running", maxRunning);
      requireNotNegative("max-queued", maxQueued);
      requireNotNegative("gpu-seconds-per-hour", gpuSecondsPerHour);
    }

    /** These limits, each one left out taken from {@code defaults}. */
    public Limits over(Limits defaults) {
      return new Limits(
          maxRunning != null ? maxRunning : defaults.maxRunning(),
          maxQueued != null ? maxQueued : defaults.maxQueued(),
          gpuSecondsPerHour != null ? gpuSecondsPerHour : defaults.gpuSecondsPerHour());
    }

    private static void requireNotNegative(String name, Number value) {
      if (value != null && value.longValue() < 0) {
        throw new IllegalArgumentException(
            "tempera.quotas "
                + name
                + " must be 0 or more (leave it out for no limit), got "
                + value);
      }
    }
  }

  public QuotaProperties {
    defaults = defaults == null ? Limits.NONE : defaults;
    projects = projects == null ? Map.of() : Map.copyOf(projects);
    maxQueuedTotal = maxQueuedTotal == null ? DEFAULT_MAX_QUEUED_TOTAL : maxQueuedTotal;
    if (maxQueuedTotal < 0) {
      throw new IllegalArgumentException(
          "tempera.quotas.max-queued-total must be 0 (no bound) or more, got " + maxQueuedTotal);
    }
    pools =
        pools == null || pools.isEmpty()
            ? List.of("default")
            : pools.stream().map(String::strip).filter(p -> !p.isEmpty()).toList();
    countsFresh = countsFresh == null ? Duration.ofSeconds(1) : countsFresh;
  }

  /** The limits of {@code projectId}: its own over the defaults. */
  public Limits limitsOf(String projectId) {
    Limits own = projects.get(projectId);
    return own == null ? defaults : own.over(defaults);
  }
}
