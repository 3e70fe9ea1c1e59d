package io.tempera.generation;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.models.ModelSpec;
import io.tempera.slots.Lease;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Recovery}: what follows each setback, decided without a workflow. */
class RecoveryTest {

  private static final ModelSpec MODEL =
      new ModelSpec("sdxl", "comfyui", "img", List.of(), Map.of(), 8188, "/", 8_000, 60, "sd15");

  private static GenerationPlan plan(String tier, ModelSpec model) {
    return new GenerationPlan(
        "f", "1", tier, tier, "comfyui", null, List.of(), 60, List.of(), Map.of(), null, model,
        null, 0);
  }

  private static Attempt leasedOn(String hostId) {
    return Attempt.none()
        .leased("pool", new Lease("l-" + hostId, "pool", "gen", hostId, "q-" + hostId, 0, 0));
  }

  @Test
  void aLostHostMovesTheGenerationUntilThreeHostsWereLostUnderIt() {
    Attempt attempt = leasedOn("a").movedOffHost("a");
    assertThat(attempt.lease()).as("no lease on the lost host is kept").isNull();
    assertThat(attempt.job()).isNull();
    assertThat(Recovery.next(Setback.HOST_LOST, plan("high", null), attempt, "GPU host a died"))
        .isEqualTo(new Recovery.MoveHost("Moved to another GPU: GPU host a died"));

    Attempt thrice = attempt.movedOffHost("b").movedOffHost("c");
    assertThat(thrice.lostHosts()).containsExactly("a", "b", "c");
    assertThat(Recovery.next(Setback.HOST_LOST, plan("high", null), thrice, "c died"))
        .isInstanceOf(Recovery.MoveHost.class);
    assertThat(
            Recovery.next(
                Setback.HOST_LOST, plan("high", null), thrice.movedOffHost("d"), "d died"))
        .as("a fourth lost host ends it")
        .isInstanceOf(Recovery.GiveUp.class);
  }

  @Test
  void movingOffAHostKeepsWhatWasTriedBefore() {
    Attempt attempt =
        leasedOn("a").starting(new ModelStart("gen", MODEL, 0)).ranAgain().movedOffHost("a");
    assertThat(attempt.model()).isNull();
    assertThat(attempt.ranAgainAfterStall()).isTrue();
    assertThat(attempt.triedModels()).containsExactly("sdxl");
    assertThat(attempt.pool()).isEqualTo("pool");
  }

  @Test
  void aStallRunsAgainOnceThenGivesUp() {
    Attempt attempt = leasedOn("a");
    assertThat(Recovery.next(Setback.STALLED, plan("high", null), attempt, "silent"))
        .isEqualTo(new Recovery.RunAgain("silent; it was started again"));
    assertThat(Recovery.next(Setback.STALLED, plan("high", null), attempt.ranAgain(), "silent"))
        .isInstanceOf(Recovery.GiveUp.class);
  }

  @Test
  void aBackendFaultRunsAgainOnceThenGivesUp() {
    Attempt attempt = leasedOn("a");
    assertThat(Recovery.next(Setback.BACKEND_FAULT, plan("high", null), attempt, "cuda"))
        .isEqualTo(new Recovery.RunAgain("cuda; it was started again"));
    assertThat(Recovery.next(Setback.BACKEND_FAULT, plan("high", null), attempt.ranAgain(), "cuda"))
        .isInstanceOf(Recovery.GiveUp.class);
  }

  @Test
  void outOfMemoryStepsDownTheTierChainToDraftThenGivesUp() {
    assertThat(Recovery.next(Setback.OUT_OF_GPU_MEMORY, plan("ultra", null), leasedOn("a"), "oom"))
        .isInstanceOfSatisfying(
            Recovery.LowerTier.class, lower -> assertThat(lower.tier()).isEqualTo("high"));
    assertThat(Recovery.next(Setback.NO_GPU_FITS, plan("standard", null), leasedOn("a"), "big"))
        .isInstanceOfSatisfying(
            Recovery.LowerTier.class, lower -> assertThat(lower.tier()).isEqualTo("draft"));
    assertThat(Recovery.next(Setback.OUT_OF_GPU_MEMORY, plan("draft", null), leasedOn("a"), "oom"))
        .isInstanceOf(Recovery.GiveUp.class);
  }

  @Test
  void aModelThatFailsToLoadFallsBackOnceToItsFallbackModel() {
    Attempt tried = leasedOn("a").starting(new ModelStart("gen", MODEL, 0));
    assertThat(Recovery.next(Setback.MODEL_FAILED_TO_LOAD, plan("high", MODEL), tried, "boom"))
        .isInstanceOfSatisfying(
            Recovery.FallbackModel.class, model -> assertThat(model.modelId()).isEqualTo("sd15"));
    ModelSpec fallback =
        new ModelSpec("sd15", "comfyui", "img", List.of(), Map.of(), 8188, "/", 4_000, 60, "sdxl");
    Attempt both = tried.starting(new ModelStart("gen", fallback, 0));
    assertThat(Recovery.next(Setback.MODEL_FAILED_TO_LOAD, plan("high", fallback), both, "boom"))
        .as("sdxl was tried already")
        .isInstanceOf(Recovery.GiveUp.class);
    assertThat(Recovery.next(Setback.NONE, plan("high", MODEL), tried, "x"))
        .isInstanceOf(Recovery.GiveUp.class);
  }
}
