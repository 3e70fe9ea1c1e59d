package io.tempera.generation;

import java.util.Locale;

/**
 * A generation's priority by name, each one of Temporal's task-queue priority keys (1 goes first):
 * the order it waits in for a GPU slot (the slot allocator's line) and for a worker (Temporal's
 * task queues, where the server has priorities on).
 */
public enum PriorityLevel {
  URGENT(1),
  INTERACTIVE(2),
  NORMAL(3),
  LOW(4),
  BATCH(5);

  private final int key;

  PriorityLevel(int key) {
    this.key = key;
  }

  /** Temporal's priority key: 1 (first) to 5 (last). */
  public int key() {
    return key;
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The level of this name (any case), or null. */
  public static PriorityLevel fromId(String id) {
    if (id == null) {
      return null;
    }
    for (PriorityLevel level : values()) {
      if (level.id().equals(id.trim().toLowerCase(Locale.ROOT))) {
        return level;
      }
    }
    return null;
  }

  /** The level of this key, or null. */
  public static PriorityLevel fromKey(Integer key) {
    if (key == null) {
      return null;
    }
    for (PriorityLevel level : values()) {
      if (level.key == key) {
        return level;
      }
    }
    return null;
  }

  /**
   * A tier's default when the configuration names none: drafts are interactive previews, ultra
   * renders are low, the rest normal.
   */
  public static PriorityLevel defaultFor(io.tempera.template.QualityTier tier) {
    return switch (tier) {
      case DRAFT -> INTERACTIVE;
      case STANDARD, HIGH -> NORMAL;
      case ULTRA -> LOW;
    };
  }
}
