package io.tempera.backend;

/**
 * What went wrong talking to a backend server, in the terms every backend shares. Each backend's
 * own error kinds ({@code ComfyUiException.Kind}, {@code GradioException.Kind}) have a constant of
 * each of these names, meaning the same, next to the kinds only that backend has.
 */
public enum BackendFault {
  /** No connection, or it broke (an event stream or WebSocket included). */
  UNREACHABLE,
  /** 5xx, or another refusal that may pass. */
  SERVER_ERROR,
  /** No answer (or no event on a stream) in time. */
  TIMEOUT,
  /** An answer we cannot understand. */
  PROTOCOL,
  /** A file or job that is not on the server. */
  NOT_FOUND,
  /** The caller stopped waiting (its thread was interrupted). */
  ABORTED
}
