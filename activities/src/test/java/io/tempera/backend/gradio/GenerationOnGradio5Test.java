package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GenerationOnGradioTest}'s cases on Gradio 5.x (scripts/ensure-gradio.sh 5). */
class GenerationOnGradio5Test extends GenerationOnGradioTest {

  @BeforeAll
  static void startOnGradio5() throws Exception {
    startApps(5);
  }
}
