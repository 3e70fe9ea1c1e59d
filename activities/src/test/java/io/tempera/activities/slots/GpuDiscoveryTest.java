package io.tempera.activities.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.slots.Gpu;
import org.junit.jupiter.api.Test;

class GpuDiscoveryTest {

  @Test
  void readsNvidiaSmiCsv() {
    assertThat(GpuDiscovery.parse("0, 24576\n1, 81920\n"))
        .containsExactly(new Gpu(0, 24_576), new Gpu(1, 81_920));
  }

  @Test
  void skipsWhatItCannotRead() {
    assertThat(GpuDiscovery.parse("No devices were found\n\n0, [N/A]\n")).isEmpty();
  }

  @Test
  void aMachineWithoutNvidiaSmiHasNoDiscoveredGpus() {
    // the machines this runs on have no GPU: either nvidia-smi is missing or it finds nothing
    assertThat(GpuDiscovery.discover()).allSatisfy(gpu -> assertThat(gpu.vramMb()).isPositive());
  }
}
