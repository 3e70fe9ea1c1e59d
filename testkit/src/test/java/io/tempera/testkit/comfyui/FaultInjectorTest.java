package io.tempera.testkit.comfyui;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FaultInjectorTest {

  static List<String> draws(FaultInjector faults, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(faults.draw("server_error"));
      out.add(faults.draw(null, "websocket_drop", "out_of_memory"));
    }
    return out;
  }

  @Test
  void noFaultsUntilInjected() {
    FaultInjector faults = new FaultInjector();
    assertThat(draws(faults, 50)).containsOnlyNulls();
    assertThat(faults.injected()).isEmpty();
  }

  @Test
  void theSameSeedDrawsTheSameFaultsAndTheyAreCounted() {
    FaultInjector a = new FaultInjector();
    FaultInjector b = new FaultInjector();
    a.inject(0.9, 42);
    b.inject(0.9, 42);
    List<String> drawn = draws(a, 200);
    assertThat(draws(b, 200)).isEqualTo(drawn);
    assertThat(drawn).contains("server_error", "websocket_drop", "out_of_memory");
    long drops = drawn.stream().filter("websocket_drop"::equals).count();
    assertThat(a.injected())
        .containsEntry("websocket_drop", (int) drops)
        .containsOnlyKeys("server_error", "websocket_drop", "out_of_memory");
  }
}
