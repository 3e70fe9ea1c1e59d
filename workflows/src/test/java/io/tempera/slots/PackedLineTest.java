package io.tempera.slots;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.codec.TemperaDataConverter;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The wait line a run hands to the next, packed: small at depth, the same line back. */
class PackedLineTest {

  /** The real Temporal server refuses a payload over 2 MB (its default blob size limit). */
  private static final int SERVER_PAYLOAD_LIMIT = 2 * 1024 * 1024;

  private static AllocatorState stateWith(int waiting) {
    List<Waiter> line = new ArrayList<>();
    for (int i = 0; i < waiting; i++) {
      String project = i % 100 == 0 ? "trickle" : "flood";
      line.add(
          new Waiter(
              new LeaseRequest(
                  "gen-" + project + "-" + UUID.randomUUID(),
                  i % 3 == 0 ? 6_000 : 0,
                  "upscale",
                  "standard",
                  project,
                  i % 7 == 0 ? 2 : 3,
                  project.equals("trickle") ? 3 : 1),
              i + 1,
              1_765_000_000_000L + i * 37L));
    }
    return new AllocatorState(
        "default",
        List.of(new HostRegistration("h1", "tempera-host-h1", List.of(new Gpu(0, 24_000)), 2)),
        List.of(),
        line,
        42,
        AllocatorSettings.defaults(),
        List.of(),
        List.of(),
        GpuTime.none());
  }

  private static int payloadBytes(AllocatorState state) {
    return TemperaDataConverter.standard().toPayload(state).orElseThrow().getSerializedSize();
  }

  @Test
  void tenThousandWaitersFitOnePayloadOnlyPacked() {
    AllocatorState state = stateWith(10_000);
    int listed = payloadBytes(state);
    int packed = payloadBytes(state.packed());
    System.out.printf("10,000 waiters: %,d bytes listed, %,d bytes packed%n", listed, packed);
    assertThat(listed).as("listed: over the server's limit").isGreaterThan(SERVER_PAYLOAD_LIMIT);
    assertThat(packed).as("packed: well under it").isLessThan(SERVER_PAYLOAD_LIMIT / 4);
  }

  @Test
  void theNextRunReadsTheSameLineInTheSameOrder() {
    AllocatorState state = stateWith(2_500);
    AllocatorState handedOver =
        TemperaDataConverter.standard()
            .fromPayload(
                TemperaDataConverter.standard().toPayload(state.packed()).orElseThrow(),
                AllocatorState.class,
                AllocatorState.class);
    assertThat(handedOver.waiters()).isEmpty();
    assertThat(handedOver.line()).isEqualTo(state.waiters());
    assertThat(handedOver.seq()).isEqualTo(42);
    assertThat(handedOver.hosts()).isEqualTo(state.hosts());
  }

  @Test
  void packingIsDeterministicAndAnEmptyLineStaysListed() {
    AllocatorState state = stateWith(300);
    assertThat(state.packed().packedWaiters()).isEqualTo(state.packed().packedWaiters());
    AllocatorState empty = stateWith(0);
    assertThat(empty.packed()).isSameAs(empty);
    assertThat(empty.line()).isEmpty();
  }
}
