package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GradioAppsOnRealGradioTest}'s cases on Gradio 6.x (scripts/ensure-gradio.sh 6). */
class GradioAppsOnGradio6Test extends GradioAppsOnRealGradioTest {

  @BeforeAll
  static void startOnGradio6() throws Exception {
    startApps(6);
  }
}
