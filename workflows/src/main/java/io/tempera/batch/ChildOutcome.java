package io.tempera.batch;

import io.tempera.generation.GenerationStatus;
import java.util.List;

/**
 * How one of a batch's generations ended, compact (a batch carries a thousand of them across
 * continue-as-new): its full state is the generation's own ({@code /api/generations/{id}}).
 *
 * @param index the variation's number, 0-based (its generation's id ends with it)
 * @param status SUCCEEDED, FAILED or CANCELLED
 * @param outputs its stored outputs
 * @param errorCode the error's code when it failed or was cancelled
 * @param errorMessage the error's sentence, at most {@link #MAX_MESSAGE} characters
 */
public record ChildOutcome(
    int index,
    GenerationStatus status,
    List<ChildOutput> outputs,
    String errorCode,
    String errorMessage) {

  /** The longest error sentence kept. */
  public static final int MAX_MESSAGE = 300;

  public ChildOutcome {
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
    if (errorMessage != null && errorMessage.length() > MAX_MESSAGE) {
      errorMessage = errorMessage.substring(0, MAX_MESSAGE - 1) + "…";
    }
  }
}
