package io.tempera.batch;

import java.util.List;

/**
 * One parameter a batch sweeps over, and its values in order.
 *
 * @param values each a value of the parameter, as in a generation's {@code parameters}
 */
public record SweepAxis(String parameter, List<Object> values) {

  public SweepAxis {
    values =
        values == null
            ? List.of()
            : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
  }
}
