package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GradioAppsOnRealGradioTest}'s cases on Gradio 4.x (scripts/ensure-gradio.sh 4). */
class GradioAppsOnGradio4Test extends GradioAppsOnRealGradioTest {

  @BeforeAll
  static void startOnGradio4() throws Exception {
    startApps(4);
  }
}
