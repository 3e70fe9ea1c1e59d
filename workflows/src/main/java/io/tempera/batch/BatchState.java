package io.tempera.batch;

import io.tempera.generation.GenerationStatus;
import java.util.List;

/**
 * Where a batch is: what it runs, how far it got, the generations in flight now, how each ended one
 * ended, and, when its next generation waits for its project's quota, why.
 *
 * @param started the variations started so far (0 to {@code started - 1})
 * @param inFlight the indices of the started generations not ended yet
 * @param outcomes how each ended generation ended, by index
 * @param quotaWait why the next generation waits (null: it does not)
 * @param runs the runs of the batch's workflow so far (it continues as new after a chunk)
 */
public record BatchState(
    String batchId,
    BatchRequest request,
    BatchStatus status,
    int started,
    List<Integer> inFlight,
    List<ChildOutcome> outcomes,
    QuotaWait quotaWait,
    int runs) {

  public BatchState {
    inFlight = inFlight == null ? List.of() : List.copyOf(inFlight);
    outcomes = outcomes == null ? List.of() : List.copyOf(outcomes);
  }

  public int total() {
    return request.total();
  }

  /** Variations not started yet (none once the batch ended: a cancelled one never starts them). */
  public int waiting() {
    return status.terminal() ? 0 : total() - started;
  }

  public int succeeded() {
    return count(GenerationStatus.SUCCEEDED);
  }

  public int failed() {
    return count(GenerationStatus.FAILED);
  }

  /** Ended cancelled, and, in a cancelled batch, never started. */
  public int cancelled() {
    return count(GenerationStatus.CANCELLED)
        + (status == BatchStatus.CANCELLED ? total() - started : 0);
  }

  private int count(GenerationStatus status) {
    return (int) outcomes.stream().filter(o -> o.status() == status).count();
  }
}
