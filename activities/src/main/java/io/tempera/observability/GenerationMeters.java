package io.tempera.observability;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * The meters of generations, recorded outside workflow code (activities and the worker's
 * interceptor) so the workflow stays deterministic. Prometheus names: {@code
 * tempera_generations_total}, {@code tempera_generation_duration_seconds}, {@code
 * tempera_generation_phase_seconds}, {@code tempera_generation_fallbacks_total}, {@code
 * tempera_activity_failures_total}, {@code tempera_activity_retries_total}. Tags are bounded
 * ({@link MetricTags}).
 */
public final class GenerationMeters {

  public static final String GENERATIONS = "tempera.generations";
  public static final String DURATION = "tempera.generation.duration";
  public static final String PHASE = "tempera.generation.phase";
  public static final String FALLBACKS = "tempera.generation.fallbacks";
  public static final String ACTIVITY_FAILURES = "tempera.activity.failures";
  public static final String ACTIVITY_RETRIES = "tempera.activity.retries";

  /** The phases {@link #PHASE} is tagged with. */
  public static final String SLOT_WAIT = "slot_wait";

  public static final String MODEL_START = "model_start";
  public static final String BACKEND_QUEUE = "backend_queue";
  public static final String EXECUTION = "execution";
  public static final String COLLECTION = "collection";

  /**
   * Histogram buckets (a few fixed ones rather than a percentile histogram of ~70 buckets per tag
   * set): enough for p50/p95/p99 of runs from a tenth of a second to half an hour.
   */
  static final Duration[] BUCKETS = {
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30),
    Duration.ofSeconds(60),
    Duration.ofSeconds(120),
    Duration.ofSeconds(300),
    Duration.ofSeconds(600),
    Duration.ofSeconds(1800),
    Duration.ofSeconds(3600)
  };

  private GenerationMeters() {}

  /** How long one phase of a generation took (one attempt of it). */
  public static void phase(
      MeterRegistry registry, String phase, String functionId, String tier, Duration took) {
    if (registry == null || took == null || took.isNegative()) {
      return;
    }
    Timer.builder(PHASE)
        .description(
            "Time a generation spent in a phase: slot_wait, model_start, backend_queue, execution,"
                + " collection")
        .tag("phase", phase)
        .tag("function", MetricTags.function(functionId))
        .tag("tier", MetricTags.tier(tier))
        .serviceLevelObjectives(BUCKETS)
        .register(registry)
        .record(took);
  }

  /** A generation ended: {@code outcome} succeeded, failed or cancelled; {@code error} its code. */
  public static void ended(
      MeterRegistry registry,
      String functionId,
      String tier,
      String backend,
      String outcome,
      String error,
      Duration took) {
    Counter.builder(GENERATIONS)
        .description("Generations that ended, by function, tier, backend, outcome and error code")
        .tag("function", MetricTags.function(functionId))
        .tag("tier", MetricTags.tier(tier))
        .tag("backend", MetricTags.backend(backend))
        .tag("outcome", outcome)
        .tag("error", MetricTags.error(error))
        .register(registry)
        .increment();
    if (took != null && !took.isNegative()) {
      Timer.builder(DURATION)
          .description("A generation from its start to its end")
          .tag("function", MetricTags.function(functionId))
          .tag("tier", MetricTags.tier(tier))
          .tag("outcome", outcome)
          .serviceLevelObjectives(BUCKETS)
          .register(registry)
          .record(took);
    }
  }

  /** A generation stepped down a fallback chain: {@code kind} tier or model. */
  public static void fellBack(MeterRegistry registry, String kind, String fromTier, String toTier) {
    Counter.builder(FALLBACKS)
        .description("Steps down a fallback chain (kind tier: a lower tier; model: a backup model)")
        .tag("kind", kind)
        .tag("from_tier", MetricTags.tier(fromTier))
        .tag("to_tier", MetricTags.tier(toTier))
        .register(registry)
        .increment();
  }

  /** An activity attempt failed with {@code error} (an error code, else the exception's kind). */
  public static void activityFailed(MeterRegistry registry, String activity, String error) {
    Counter.builder(ACTIVITY_FAILURES)
        .description(
            "Failed activity attempts, by activity and failure type (Temporal retries them"
                + " unless the type is not retryable)")
        .tag("activity", activity)
        .tag("error", error)
        .register(registry)
        .increment();
  }

  /** An activity's attempt after its first started: a retry. */
  public static void activityRetried(MeterRegistry registry, String activity) {
    Counter.builder(ACTIVITY_RETRIES)
        .description("Activity attempts after the first (retries), by activity")
        .tag("activity", activity)
        .register(registry)
        .increment();
  }
}
