package io.tempera.backend.comfyui;

/**
 * One step of a prompt's progress.
 *
 * @param fraction overall 0..1: nodes done (cached count as done) plus the current node's share
 * @param queuePosition while pending: 1 = next; null once running
 */
@SuppressWarnings(
    "ArrayRecordComponent") // a preview frame's bytes pass through; updates are never compared
public record ProgressUpdate(
    Stage stage,
    double fraction,
    String nodeId,
    String classType,
    Integer step,
    Integer totalSteps,
    Integer queuePosition,
    String previewContentType,
    byte[] previewBytes) {

  public enum Stage {
    QUEUED,
    STARTED,
    NODE_STARTED,
    STEP,
    NODE_FINISHED,
    PREVIEW,
    /** The server stopped answering; the run waits for it to come back. */
    SERVER_DOWN
  }
}
