package io.tempera.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tempera.slots.Gpu;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * How tempera.worker.* binds, as tempera-worker.yml passes it (empty environment variables
 * included).
 */
class WorkerPropertiesTest {

  private static WorkerProperties bind(Map<String, String> values) {
    return new Binder(new MapConfigurationPropertySource(values))
        .bindOrCreate("tempera.worker", WorkerProperties.class);
  }

  @Test
  void declaredVirtualGpusTiersAndHostId() {
    WorkerProperties properties =
        bind(
            Map.of(
                "tempera.worker.host-id",
                "gpu-box-1",
                "tempera.worker.gpus[0].index",
                "0",
                "tempera.worker.gpus[0].vram-mb",
                "8000",
                "tempera.worker.gpus[1].index",
                "1",
                "tempera.worker.gpus[1].vram-mb",
                "16000",
                "tempera.worker.tiers",
                "high,ultra",
                "tempera.worker.slot-pool",
                "big"));

    assertThat(properties.hostId()).isEqualTo("gpu-box-1");
    assertThat(properties.gpus()).containsExactly(new Gpu(0, 8_000), new Gpu(1, 16_000));
    assertThat(properties.tiers()).containsExactly("high", "ultra");
    assertThat(properties.slotPool()).isEqualTo("big");
  }

  @Test
  void emptyValuesMeanTheDefaults() {
    WorkerProperties properties =
        bind(
            Map.of(
                "tempera.worker.host-id",
                "",
                "tempera.worker.tiers",
                "",
                "tempera.worker.slots",
                "2"));

    assertThat(properties.hostId()).isNotBlank().matches("[A-Za-z0-9_.-]+");
    assertThat(properties.tiers()).containsExactly("draft", "standard", "high", "ultra");
    assertThat(properties.gpus()).isEmpty();
    assertThat(properties.slotPool()).isEqualTo("default");
  }

  @Test
  void anUnknownTierOrABadHostIdIsAClearStartupError() {
    assertThatThrownBy(() -> bind(Map.of("tempera.worker.tiers", "premium")))
        .hasRootCauseMessage(
            "tempera.worker.tiers: unknown tier 'premium' (known: [draft, standard, high, ultra])");
    assertThatThrownBy(() -> bind(Map.of("tempera.worker.host-id", "my host/1")))
        .rootCause()
        .hasMessageContaining("tempera.worker.host-id must be");
  }
}
