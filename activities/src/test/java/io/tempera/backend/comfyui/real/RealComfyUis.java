package io.tempera.backend.comfyui.real;

import io.tempera.testkit.comfyui.RealComfyUi;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;

/**
 * Starts the real ComfyUI on the tiny models for the *RealComfyUiIT suites; without the install:
 * fails in CI, skips elsewhere.
 */
final class RealComfyUis {

  private RealComfyUis() {}

  static RealComfyUi start() throws IOException {
    Optional<Path> home = RealComfyUi.findHome();
    if (home.isEmpty()) {
      String why =
          "No real ComfyUI: run scripts/ensure-comfyui.sh (./tempera test does) or set TEMPERA_COMFYUI_HOME";
      if (RealComfyUi.ci()) {
        throw new IllegalStateException(why);
      }
      Assumptions.abort(why);
    }
    Path models = RealComfyUi.tinyModels(home.get());
    long started = System.nanoTime();
    RealComfyUi server = RealComfyUi.start(home.get(), models, Duration.ofSeconds(180));
    System.out.printf(
        "real ComfyUI on %s started in %d ms (models %s)%n",
        server.baseUrl(), (System.nanoTime() - started) / 1_000_000, models);
    return server;
  }
}
