package io.tempera.template;

import java.util.Locale;

/**
 * The four quality tiers the canvas offers; {@code low} and {@code premium} are the seeds' old
 * names.
 */
public enum QualityTier {
  DRAFT,
  STANDARD,
  HIGH,
  ULTRA;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * A requested tier resolved to a real one; unknown or missing names fall back to STANDARD with a
   * warning.
   */
  public record Resolution(QualityTier tier, String warning) {}

  public static Resolution resolve(String requested) {
    if (requested == null || requested.isBlank()) {
      return new Resolution(STANDARD, null);
    }
    String name = requested.trim().toLowerCase(Locale.ROOT);
    return switch (name) {
      case "draft", "low" -> new Resolution(DRAFT, null);
      case "standard" -> new Resolution(STANDARD, null);
      case "high" -> new Resolution(HIGH, null);
      case "ultra", "premium" -> new Resolution(ULTRA, null);
      default ->
          new Resolution(
              STANDARD, "Unknown quality tier '" + requested + "': using standard instead");
    };
  }

  /** Exact id (draft/standard/high/ultra) or null. */
  public static QualityTier fromId(String id) {
    for (QualityTier tier : values()) {
      if (tier.id().equals(id)) {
        return tier;
      }
    }
    return null;
  }
}
