package io.tempera.batch;

/** Where a batch is. */
public enum BatchStatus {
  /** Some of its variations have not ended yet. */
  RUNNING,
  /** Every variation ended (each one succeeded, failed or was cancelled on its own). */
  COMPLETED,
  /** The batch was cancelled: the generations not yet ended were cancelled with it. */
  CANCELLED;

  public boolean terminal() {
    return this != RUNNING;
  }
}
