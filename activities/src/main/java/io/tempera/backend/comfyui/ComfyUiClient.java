package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The one door to a ComfyUI server (real or the testkit one). Speaks the real wire protocol:
 * POST /prompt, /ws, /history, /queue, /view, /upload/image, /interrupt, /system_stats.
 *
 * <p>Every failure is a {@link ComfyUiException} with a {@link ComfyUiException.Kind}.
 */
public final class ComfyUiClient implements AutoCloseable {

  public ComfyUiClient(URI baseUrl, ComfyUiClientOptions options) {
    throw new UnsupportedOperationException("ComfyUiClient is not built yet");
  }

  public URI baseUrl() {
    throw new UnsupportedOperationException("not built yet");
  }

  /**
   * Runs a prompt exactly once and follows it to its end. If a prompt with this id is already
   * finished (in /history) its result is returned; if it is queued or running (in /queue) it is
   * followed; only otherwise is it submitted with POST /prompt. The WebSocket for {@code clientId}
   * is opened before submitting. A dropped WebSocket is reconnected (same clientId) and /history
   * is checked, so no terminal event is missed.
   *
   * @param graph API-format graph {node_id: {class_type, inputs}}
   * @param promptId lowercase hyphenated UUID chosen by the caller
   * @param clientId the ComfyUI client_id (stable across attempts of one run)
   * @param listener receives progress; must not block
   * @return the finished prompt's result: success, or a failure kind that was not an exception
   * @throws ComfyUiException VALIDATION for a 400 with node_errors, EXECUTION for execution_error,
   *     INTERRUPTED for execution_interrupted, UNREACHABLE/SERVER_ERROR/TIMEOUT/PROTOCOL otherwise
   */
  public PromptResult run(ObjectNode graph, String promptId, String clientId, ProgressListener listener) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** POST /prompt only. */
  public SubmitResponse submit(ObjectNode graph, String promptId, String clientId) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** GET /history/{id}: empty while queued or running or unknown. */
  public Optional<PromptResult> history(String promptId) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** GET /queue: whether the prompt is pending or running, and its position. */
  public QueueStatus queueStatus(String promptId) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** POST /upload/image (multipart, type=input). Returns the server's name for the file. */
  public UploadedImage uploadImage(Path file, String filename) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** GET /view streamed to {@code target} (never held whole in memory). Returns bytes written. */
  public long download(OutputFile output, Path target) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** POST /interrupt {prompt_id} and POST /queue {delete:[id]}: stops it running or pending. */
  public void cancel(String promptId) {
    throw new UnsupportedOperationException("not built yet");
  }

  /** GET /system_stats as raw JSON. */
  public ObjectNode systemStats() {
    throw new UnsupportedOperationException("not built yet");
  }

  @Override
  public void close() {}
}
