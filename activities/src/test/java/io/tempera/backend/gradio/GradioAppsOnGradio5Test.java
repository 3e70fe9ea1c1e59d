package io.tempera.backend.gradio;

import org.junit.jupiter.api.BeforeAll;

/** {@link GradioAppsOnRealGradioTest}'s cases on Gradio 5.x (scripts/ensure-gradio.sh 5). */
class GradioAppsOnGradio5Test extends GradioAppsOnRealGradioTest {

  @BeforeAll
  static void startOnGradio5() throws Exception {
    startApps(5);
  }
}
