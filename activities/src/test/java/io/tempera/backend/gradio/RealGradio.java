package io.tempera.backend.gradio;

import io.tempera.testkit.gradio.GradioApp;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Starts the testkit's real Gradio apps on Gradio 4, 5 or 6; without that version: fails in CI,
 * skips elsewhere.
 */
final class RealGradio {

  static final String USER = "tempera";
  static final String PASSWORD = "s3cret-pw";

  private RealGradio() {}

  /** A Python with gradio 5.x. */
  static Path python() {
    return python(5);
  }

  /** A Python with gradio of this major version (4, 5 or 6): fails in CI, skips elsewhere. */
  static Path python(int major) {
    return GradioApp.pythonForTest(major);
  }

  /** testkit/gradio/tempera_app.py on Gradio 5.x. */
  static GradioApp app(boolean auth) throws IOException {
    return app(5, auth);
  }

  /** testkit/gradio/tempera_app.py on Gradio {@code major}.x, behind a login when {@code auth}. */
  static GradioApp app(int major, boolean auth) throws IOException {
    return app(
        major,
        "tempera_app.py",
        auth ? Map.of("TEMPERA_GRADIO_AUTH", USER + ":" + PASSWORD) : Map.of());
  }

  /**
   * testkit/gradio/{@code script} on Gradio {@code major}.x with these extra environment variables.
   */
  static GradioApp app(int major, String script, Map<String, String> env) throws IOException {
    return GradioApp.start(
        python(major), GradioApp.script(script), new HashMap<>(env), Duration.ofSeconds(180));
  }
}
