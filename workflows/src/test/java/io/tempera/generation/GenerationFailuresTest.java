package io.tempera.generation;

import static org.assertj.core.api.Assertions.assertThat;

import io.temporal.failure.ApplicationFailure;
import org.junit.jupiter.api.Test;

/** How a step's failure reads to a person: our codes with their sentences, anything else never. */
class GenerationFailuresTest {

  @Test
  void aFailureOfOurTaxonomyKeepsItsCodeAndSentence() {
    GenerationError error =
        GenerationFailures.describe(
            ApplicationFailure.newNonRetryableFailure(
                "The generator failed at node 7 (KSampler)", ErrorCode.EXECUTION_ERROR.name()),
            Phase.GENERATING,
            null,
            null);

    assertThat(error.code()).isEqualTo("EXECUTION_ERROR");
    assertThat(error.message()).isEqualTo("The generator failed at node 7 (KSampler)");
  }

  @Test
  void anExceptionNoStepMappedIsInternalWithoutItsText() {
    GenerationError error =
        GenerationFailures.describe(
            ApplicationFailure.newFailure(
                "cannot read /home/comfy/ComfyUI/output/x.png: Permission denied",
                "java.io.UncheckedIOException"),
            Phase.COLLECTING_OUTPUTS,
            null,
            null);

    assertThat(error.code()).isEqualTo("INTERNAL");
    assertThat(error.message())
        .isEqualTo("The generation failed on an unexpected error")
        .doesNotContain("/home");
  }
}
