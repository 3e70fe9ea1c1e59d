package io.tempera.generation;

/**
 * A step down a fallback chain, as the user is told: "Finished at standard because high ran out of
 * GPU memory" (a tier fallback), or "Finished with a backup model because the preferred one failed
 * to load" (a model fallback: same tier, the registry's fallback model). The person is never told
 * model names (seed 002); they are kept here, in the state and result, for operators.
 *
 * @param fromModel the model that failed (null for a tier fallback)
 * @param toModel the registry's fallback model it finished on (null for a tier fallback)
 */
public record Fallback(
    String fromTier, String toTier, String reason, String fromModel, String toModel) {

  public Fallback(String fromTier, String toTier, String reason) {
    this(fromTier, toTier, reason, null, null);
  }

  /** A model that failed to load replaced by its fallback, at the same tier. */
  public static Fallback ofModel(String tier, String fromModel, String toModel, String reason) {
    return new Fallback(tier, tier, reason, fromModel, toModel);
  }

  public String describe() {
    if (fromModel != null) {
      return "Finished with a backup model because the preferred one " + reason;
    }
    return "Finished at " + toTier + " because " + fromTier + " " + reason;
  }
}
