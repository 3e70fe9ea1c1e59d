package io.tempera.backend.gradio;

import io.tempera.testkit.gradio.GradioApp;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;

/** Starts the testkit's real Gradio apps; without Gradio: fails in CI, skips elsewhere. */
final class RealGradio {

  static final String USER = "tempera";
  static final String PASSWORD = "s3cret-pw";

  private RealGradio() {}

  static Path python() {
    var python = GradioApp.findPython();
    if (python.isEmpty()) {
      String why =
          "No Python with gradio: run scripts/ensure-gradio.sh (./tempera test does) or set TEMPERA_GRADIO_PYTHON";
      if (GradioApp.ci()) {
        throw new IllegalStateException(why);
      }
      Assumptions.abort(why);
    }
    return python.get();
  }

  static GradioApp app(boolean auth) throws IOException {
    return GradioApp.start(
        python(),
        GradioApp.script("tempera_app.py"),
        auth ? Map.of("TEMPERA_GRADIO_AUTH", USER + ":" + PASSWORD) : Map.of(),
        Duration.ofSeconds(180));
  }
}
