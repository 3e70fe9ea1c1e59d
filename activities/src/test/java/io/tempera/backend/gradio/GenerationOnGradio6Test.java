package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GenerationOnGradioTest}'s cases on Gradio 6.x (scripts/ensure-gradio.sh 6). */
class GenerationOnGradio6Test extends GenerationOnGradioTest {

  @BeforeAll
  static void startOnGradio6() throws Exception {
    startApps(6);
  }
}
