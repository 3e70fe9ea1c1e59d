package io.tempera.generation;

/**
 * The one place that decides what a generation does after a setback: run again, step down a tier,
 * switch to the model registry's fallback model, or give up. Pure and deterministic (no workflow
 * calls), so it is unit-tested on its own.
 */
public final class Recovery {

  private Recovery() {}

  /** What to do next. */
  public sealed interface Step {}

  /** Run the same plan once more under a new run id (a stopped run cannot be re-attached). */
  public record RunAgain(String warning) implements Step {}

  /**
   * Leave the lost host: ask for a lease again (another GPU) and run there as a new attempt.
   *
   * @param warning what the person is told
   */
  public record MoveHost(String warning) implements Step {}

  /** Plan again at a lower tier. */
  public record LowerTier(String tier, Fallback fallback) implements Step {}

  /** Plan again on the model registry's fallback model, at the same tier. */
  public record FallbackModel(String modelId, Fallback fallback) implements Step {}

  /** Nothing left to try: the setback ends the generation. */
  public record GiveUp() implements Step {}

  /**
   * The next step after {@code setback} for a generation at {@code plan} that has tried {@code
   * attempt} so far.
   *
   * @param message what the failure said (for the warning of a run that runs again)
   */
  public static Step next(Setback setback, GenerationPlan plan, Attempt attempt, String message) {
    // HOST_LOST: attempt has already moved off the lost host (it counts in attempt.lostHosts())
    return switch (setback) {
      case STALLED, BACKEND_FAULT ->
          attempt.ranAgainAfterStall()
              ? new GiveUp()
              : new RunAgain(message + "; it was started again");
      case HOST_LOST ->
          attempt.lostHosts().size() > Attempt.MAX_HOST_MOVES
              ? new GiveUp()
              : new MoveHost("Moved to another GPU: " + message);
      case OUT_OF_GPU_MEMORY -> lowerTier(plan, "ran out of GPU memory");
      case NO_GPU_FITS -> lowerTier(plan, "needs more GPU memory than any host has");
      case MODEL_FAILED_TO_LOAD -> {
        String fallback = plan.model() == null ? null : plan.model().fallback();
        if (fallback == null || attempt.triedModels().contains(fallback)) {
          yield new GiveUp();
        }
        yield new FallbackModel(
            fallback,
            Fallback.ofModel(plan.tierUsed(), plan.model().id(), fallback, "failed to load"));
      }
      case NONE -> new GiveUp();
    };
  }

  private static Step lowerTier(GenerationPlan plan, String reason) {
    String lower = lowerTier(plan.tierUsed());
    return lower == null
        ? new GiveUp()
        : new LowerTier(lower, new Fallback(plan.tierUsed(), lower, reason));
  }

  /** The next tier down (ultra → high → standard → draft), or null at the bottom. */
  public static String lowerTier(String tier) {
    return switch (tier == null ? "" : tier) {
      case "ultra" -> "high";
      case "high" -> "standard";
      case "standard" -> "draft";
      default -> null;
    };
  }
}
