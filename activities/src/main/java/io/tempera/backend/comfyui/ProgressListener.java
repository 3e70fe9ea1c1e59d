package io.tempera.backend.comfyui;

/** Receives a prompt's progress. Called from I/O threads: must not block. */
@FunctionalInterface
public interface ProgressListener {
  void onUpdate(ProgressUpdate update);
}
