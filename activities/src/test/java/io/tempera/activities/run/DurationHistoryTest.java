package io.tempera.activities.run;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DurationHistoryTest {

  @Test
  void averagesRecentRunsPerFunctionAndTier() {
    DurationHistory history = new DurationHistory();
    assertThat(history.averageSeconds("invert", "high")).isEmpty();
    history.record("invert", "high", 10);
    assertThat(history.averageSeconds("invert", "high")).hasValue(10.0);
    history.record("invert", "high", 20);
    assertThat(history.averageSeconds("invert", "high").getAsDouble()).isEqualTo(13.0);
    assertThat(history.averageSeconds("invert", "draft")).as("tiers are apart").isEmpty();
  }
}
