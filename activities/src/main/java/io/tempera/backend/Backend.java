package io.tempera.backend;

import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Files;
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

  /**
   * A job's file input inside the project folder; a non-retryable INVALID_REQUEST when it is not
   * there.
   */
  static Path inputFile(Path projectDir, FileInput input) {
    Path file = projectDir.resolve(input.projectPath()).normalize();
    if (!file.startsWith(projectDir) || !reachedWithoutLinks(projectDir, file)) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Input '"
              + input.parameter()
              + "' names a file that does not exist in the project: "
              + input.projectPath(),
          ErrorCode.INVALID_REQUEST.name());
    }
    return file;
  }

  /**
   * Whether {@code file} is a regular file reached from {@code projectDir} (itself no symbolic
   * link) without a symbolic link at any element: a link planted in the project is never followed
   * into a backend's input.
   */
  private static boolean reachedWithoutLinks(Path projectDir, Path file) {
    if (Files.isSymbolicLink(projectDir)) {
      return false;
    }
    Path at = projectDir;
    for (Path element : projectDir.relativize(file)) {
      at = at.resolve(element);
      if (Files.isSymbolicLink(at)) {
        return false;
      }
    }
    return Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }
}
