package io.tempera.containers;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ModelTableTest {

  final ModelTable table = new ModelTable();

  ModelEntry running(String modelId, Integer gpu, String containerId, String... holders) {
    ModelEntry e = new ModelEntry(ModelTable.key(modelId, gpu), modelId, gpu);
    e.state = ModelEntry.State.RUNNING;
    e.containerId = containerId;
    e.vramMb = 100;
    e.holders.addAll(List.of(holders));
    table.put(e);
    return e;
  }

  @Test
  void keysNameTheModelAndItsGpu() {
    assertThat(ModelTable.key("m", 0)).isEqualTo("m@0");
    assertThat(ModelTable.key("m", null)).isEqualTo("m@none");
    assertThat(ModelTable.gpuOf("m@0")).isZero();
    assertThat(ModelTable.gpuOf("m@none")).isNull();
  }

  @Test
  void aHolderIsGivenContainersPerModelAndReleasesThemAll() {
    running("m", 0, "c0", "gen-1");
    running("m", 1, "c1", "gen-1");
    running("mm", 0, "c2", "gen-1");
    table.give("gen-1", "m@0", "c0");
    table.give("gen-1", "m@1", "c1");
    table.give("gen-1", "mm@0", "c2");
    assertThat(table.givenContainers("gen-1", "m")).containsExactlyInAnyOrder("c0", "c1");
    assertThat(table.givenKeys("gen-1", "mm")).containsExactly("mm@0");

    table.release("gen-1", "m");
    assertThat(table.holders("m")).isEmpty();
    assertThat(table.givenContainers("gen-1", "m")).isEmpty();
    assertThat(table.holders("mm")).containsExactly("gen-1");
    table.release("gen-1", "m"); // idempotent
    table.release("gen-1", "mm");
    assertThat(table.givenKeys("gen-1", "mm")).isEmpty();
  }

  @Test
  void aModelGivenUpOnIsForgottenOnceNobodyHoldsIt() {
    ModelEntry failed = running("m", 0, "c0", "gen-1");
    failed.state = ModelEntry.State.FAILED;
    assertThat(table.vramInUse(0)).isEqualTo(100);
    table.release("gen-1", "m");
    assertThat(table.contains("m@0")).isFalse();
    assertThat(table.vramInUse(0)).isZero();
  }

  @Test
  void onlyRunningContainersAreListedAndCounted() {
    running("a", 0, "ca");
    ModelEntry starting = running("b", 0, "cb");
    starting.state = ModelEntry.State.STARTING;
    assertThat(table.containers()).containsExactly(java.util.Map.entry("a", "ca"));
    assertThat(table.runningCount()).isEqualTo(1);
    assertThat(table.vramInUse(0)).isEqualTo(200);
  }

  @Test
  void closingWaitsNoLongerThanTheDeadline() {
    running("a", 0, "ca", "gen-1");
    long began = System.nanoTime();
    table.closeAndAwaitHolders(began);
    assertThat(table.closed()).isTrue();
    assertThat(table.holders("a")).containsExactly("gen-1");
  }
}
