package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GenerationOnGradioTest}'s cases on Gradio 4.x (scripts/ensure-gradio.sh 4). */
class GenerationOnGradio4Test extends GenerationOnGradioTest {

  @BeforeAll
  static void startOnGradio4() throws Exception {
    startApps(4);
  }
}
