package io.tempera.generation;

/** Where a generation is in its business process, with the words a person reads. */
public enum Phase {
  RESOLVING("Preparing your request", GenerationStatus.QUEUED),
  WAITING_FOR_SLOT("Waiting for a GPU", GenerationStatus.QUEUED),
  STARTING_MODEL("Loading the model", GenerationStatus.RUNNING),
  GENERATING("Generating", GenerationStatus.RUNNING),
  COLLECTING_OUTPUTS("Saving your results", GenerationStatus.RUNNING),
  SUCCEEDED("Done", GenerationStatus.SUCCEEDED),
  FAILED("Failed", GenerationStatus.FAILED),
  CANCELLED("Cancelled", GenerationStatus.CANCELLED);

  private final String message;
  private final GenerationStatus status;

  Phase(String message, GenerationStatus status) {
    this.message = message;
    this.status = status;
  }

  public String message() {
    return message;
  }

  public GenerationStatus status() {
    return status;
  }
}
