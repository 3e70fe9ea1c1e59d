package io.tempera.activities.run;

import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How long backend runs of a function at a tier took on this worker (an exponentially weighted
 * average), for an ETA before a run has reported any progress of its own.
 */
public final class DurationHistory {

  private static final double WEIGHT = 0.3;
  private final Map<String, Double> averageSeconds = new ConcurrentHashMap<>();

  static String key(String functionId, String tier) {
    return functionId + "@" + tier;
  }

  public void record(String functionId, String tier, double seconds) {
    averageSeconds.merge(key(functionId, tier), seconds, (old, now) -> old + WEIGHT * (now - old));
  }

  public OptionalDouble averageSeconds(String functionId, String tier) {
    Double value = averageSeconds.get(key(functionId, tier));
    return value == null ? OptionalDouble.empty() : OptionalDouble.of(value);
  }
}
