package io.tempera.generation;

/** A step down the fallback chain, as the user is told: "finished at standard because high ran out of GPU memory". */
public record Fallback(String fromTier, String toTier, String reason) {

  public String describe() {
    return "Finished at " + toTier + " because " + fromTier + " " + reason;
  }
}
