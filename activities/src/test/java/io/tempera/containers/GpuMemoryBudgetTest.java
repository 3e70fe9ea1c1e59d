package io.tempera.containers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tempera.generation.ErrorCode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GpuMemoryBudgetTest {

  final GpuMemoryBudget budget = new GpuMemoryBudget(Map.of(0, 1300));

  static ModelEntry entry(
      String modelId,
      Integer gpu,
      int vramMb,
      ModelEntry.State state,
      long lastUsedNanos,
      String... holders) {
    ModelEntry e = new ModelEntry(ModelTable.key(modelId, gpu), modelId, gpu);
    e.vramMb = vramMb;
    e.state = state;
    e.lastUsedNanos = lastUsedNanos;
    e.holders.addAll(List.of(holders));
    return e;
  }

  static ModelEntry newcomer(String modelId, Integer gpu, int vramMb) {
    return entry(modelId, gpu, vramMb, ModelEntry.State.STARTING, 0);
  }

  @Test
  void aModelThatFitsEvictsNothing() {
    ModelEntry a = entry("a", 0, 600, ModelEntry.State.RUNNING, 1);
    assertThat(budget.toEvict(newcomer("b", 0, 600), List.of(a))).isEmpty();
    assertThat(budget.toEvict(newcomer("c", null, 0), List.of(a))).as("needs no memory").isEmpty();
  }

  @Test
  void theLeastRecentlyUsedIdleContainersAreEvictedFirstAndHeldOnesNever() {
    ModelEntry held = entry("held", 0, 400, ModelEntry.State.RUNNING, 1, "gen-1");
    ModelEntry older = entry("older", 0, 300, ModelEntry.State.RUNNING, 2);
    ModelEntry newer = entry("newer", 0, 300, ModelEntry.State.RUNNING, 3);
    ModelEntry otherGpu = entry("other", 1, 900, ModelEntry.State.RUNNING, 0);
    assertThat(budget.toEvict(newcomer("d", 0, 500), List.of(held, newer, older, otherGpu)))
        .containsExactly(older);
    assertThat(budget.toEvict(newcomer("d", 0, 800), List.of(held, newer, older, otherGpu)))
        .containsExactly(older, newer);
  }

  @Test
  void aStartingContainerIsNotEvictable() {
    ModelEntry starting = entry("starting", 0, 1000, ModelEntry.State.STARTING, 0);
    assertThatThrownBy(() -> budget.toEvict(newcomer("d", 0, 600), List.of(starting)))
        .isInstanceOfSatisfying(
            ModelHostException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BACKEND_BUSY));
  }

  @Test
  void whenEverythingOnTheGpuIsHeldItIsBusy() {
    ModelEntry held = entry("held", 0, 1000, ModelEntry.State.RUNNING, 0, "gen-1");
    assertThatThrownBy(() -> budget.toEvict(newcomer("d", 0, 600), List.of(held)))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.BACKEND_BUSY);
              assertThat(e.getMessage())
                  .isEqualTo(
                      "GPU 0 has no room for model 'd' (600 MB): the models on it are all in use");
            });
  }

  @Test
  void aModelThatNeverFitsOrAGpuWithoutBudgetIsUnavailable() {
    assertThatThrownBy(() -> budget.toEvict(newcomer("huge", 0, 5000), List.of()))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE);
              assertThat(e.getMessage())
                  .isEqualTo("Model 'huge' needs 5000 MB, more than GPU 0 has (1300 MB)");
            });
    assertThatThrownBy(() -> budget.toEvict(newcomer("m", 7, 100), List.of()))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.MODEL_UNAVAILABLE));
    assertThatThrownBy(() -> budget.toEvict(newcomer("m", null, 100), List.of()))
        .isInstanceOfSatisfying(
            ModelHostException.class,
            e -> assertThat(e.getMessage()).contains("no GPU memory budget for GPU null"));
  }
}
