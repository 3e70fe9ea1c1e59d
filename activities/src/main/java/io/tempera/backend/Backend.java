package io.tempera.backend;

import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * A kind of backend (ComfyUI, Gradio, script) as the generation activities see it. Failures are
 * thrown as {@code ApplicationFailure}s typed by {@link io.tempera.generation.ErrorCode}.
 */
public interface Backend {

  /** The template's backend type this serves, e.g. "comfyui". */
  String type();

  /**
   * Runs the job exactly once: an attempt that finds the job's run id already submitted re-attaches
   * to it. Blocks until the run ends; honours thread interruption.
   *
   * @param projectDir the project's folder, where the job's file inputs live
   */
  BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress);

  /** Stops the job's run if it is queued or running; does nothing otherwise. */
  void cancel(BackendJob job);

  /** Streams one produced file to {@code target}. Returns the bytes written. */
  long download(BackendFile file, Path target);
}
