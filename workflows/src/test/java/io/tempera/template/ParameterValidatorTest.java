package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ParameterValidatorTest {

  /**
   * Found by ParameterValidatorPropertyTest: longs were rounded to doubles before the range check.
   */
  @Test
  void integerBoundsAndChoicesHoldExactlyBeyondDoublePrecision() {
    long twoTo53 = 9_007_199_254_740_992L;
    ParameterSpec atMost =
        new ParameterSpec("seed", "integer", null, null, (double) twoTo53, List.of(), false, null);
    assertThat(ParameterValidator.valueProblem(atMost, twoTo53)).isNull();
    assertThat(ParameterValidator.valueProblem(atMost, twoTo53 + 1))
        .isEqualTo("must be at most 9007199254740992, got 9007199254740993");

    ParameterSpec atLeast =
        new ParameterSpec("seed", "integer", null, (double) twoTo53, null, List.of(), false, null);
    assertThat(ParameterValidator.valueProblem(atLeast, twoTo53 - 1))
        .startsWith("must be at least");
    assertThat(ParameterValidator.valueProblem(atLeast, twoTo53 + 1)).isNull();

    ParameterSpec choice =
        new ParameterSpec("seed", "integer", null, null, null, List.of(twoTo53 + 1), false, null);
    assertThat(ParameterValidator.valueProblem(choice, twoTo53)).startsWith("must be one of");
    assertThat(ParameterValidator.valueProblem(choice, twoTo53 + 1)).isNull();
  }

  @Test
  void numbersStillCompareByValueAcrossTypes() {
    ParameterSpec scale =
        new ParameterSpec("scale", "number", null, 0.25, 4.0, List.of(), false, null);
    assertThat(ParameterValidator.valueProblem(scale, 4)).isNull();
    assertThat(ParameterValidator.valueProblem(scale, 4.0)).isNull();
    assertThat(ParameterValidator.valueProblem(scale, 0.25)).isNull();
    assertThat(ParameterValidator.valueProblem(scale, -0.0)).startsWith("must be at least");
    assertThat(ParameterValidator.valueProblem(scale, Math.nextUp(4.0)))
        .startsWith("must be at most");
    ParameterSpec size =
        new ParameterSpec("size", "integer", null, null, null, List.of(512, 1024), false, null);
    assertThat(ParameterValidator.valueProblem(size, 512L)).isNull();
    assertThat(ParameterValidator.valueProblem(size, 1024.0)).isNull();
  }
}
