package io.tempera.observability;

import io.tempera.generation.ErrorCode;
import io.tempera.template.QualityTier;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Tag values a metric may carry: bounded, whatever a request says. A tier is one of the four (else
 * {@code other}); a function id is kept as it is for the first {@link #MAX_FUNCTIONS} ids seen,
 * then {@code other}; an error is an {@link ErrorCode} name (else {@code OTHER}). Generation,
 * project and node ids are never tags.
 */
public final class MetricTags {

  /** The most distinct function ids a process tags its meters with. */
  public static final int MAX_FUNCTIONS = 200;

  private static final Pattern FUNCTION_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final BoundedValues FUNCTIONS = new BoundedValues(MAX_FUNCTIONS);
  private static final Set<String> TIERS =
      java.util.Arrays.stream(QualityTier.values())
          .map(QualityTier::id)
          .collect(java.util.stream.Collectors.toUnmodifiableSet());
  private static final Set<String> ERRORS =
      java.util.Arrays.stream(ErrorCode.values())
          .map(ErrorCode::name)
          .collect(java.util.stream.Collectors.toUnmodifiableSet());

  private MetricTags() {}

  public static String tier(String tier) {
    if (tier == null || tier.isBlank()) {
      return "none";
    }
    String id = tier.trim().toLowerCase(Locale.ROOT);
    return TIERS.contains(id) ? id : "other";
  }

  public static String function(String functionId) {
    if (functionId == null || functionId.isBlank()) {
      return "none";
    }
    if (!FUNCTION_ID.matcher(functionId).matches()) {
      return "other";
    }
    return FUNCTIONS.of(functionId);
  }

  /** The first {@code max} distinct values taken as they are, any other as {@code other}. */
  static final class BoundedValues {
    private final int max;
    private final Set<String> seen = ConcurrentHashMap.newKeySet();

    BoundedValues(int max) {
      this.max = max;
    }

    String of(String value) {
      if (seen.contains(value)) {
        return value;
      }
      synchronized (seen) {
        if (seen.size() < max) {
          seen.add(value);
          return value;
        }
      }
      return "other";
    }
  }

  public static String error(String code) {
    if (code == null || code.isBlank()) {
      return "none";
    }
    return ERRORS.contains(code) ? code : "OTHER";
  }

  /** A backend type (comfyui, gradio, script) or {@code none}; types are the registry's. */
  public static String backend(String type) {
    if (type == null || type.isBlank()) {
      return "none";
    }
    return type.matches("[a-z0-9_-]{1,32}") ? type : "other";
  }
}
