package io.tempera.batch;

import java.util.List;

/**
 * What a batch carries from one run to the next (continue-as-new): how many of its variations were
 * started, how each ended one ended, and how many runs it took so far.
 *
 * @param started the variations started, 0 to {@code started - 1} (every one ended at a run's end)
 * @param outcomes how each started variation ended, by index
 */
public record BatchProgress(int started, List<ChildOutcome> outcomes, int runs) {

  public BatchProgress {
    outcomes = outcomes == null ? List.of() : List.copyOf(outcomes);
  }

  public static BatchProgress none() {
    return new BatchProgress(0, List.of(), 0);
  }
}
