package io.tempera.generation;

import java.time.Duration;

/**
 * How long each phase of a generation may take, from the template and its tier ({@code timeouts} in
 * template.json and in {@code tiers.<tier>}); a null field means the default. The run itself is
 * bounded by the plan's {@code timeoutSeconds}.
 *
 * @param slotWaitSeconds waiting in line for a GPU slot (default 1800)
 * @param modelStartSeconds starting the model's container until it is healthy (default: the model
 *     registry's {@code start_timeout_seconds})
 * @param queueWaitSeconds waiting in the backend's own queue before the run starts (default 600)
 * @param stallSeconds running with no progress from the backend: a wedged backend (default 300)
 * @param outputSeconds collecting the outputs (default 120)
 */
public record PhaseTimeouts(
    Integer slotWaitSeconds,
    Integer modelStartSeconds,
    Integer queueWaitSeconds,
    Integer stallSeconds,
    Integer outputSeconds) {

  public static final int DEFAULT_SLOT_WAIT_SECONDS = 1800;
  public static final int DEFAULT_QUEUE_WAIT_SECONDS = 600;
  public static final int DEFAULT_STALL_SECONDS = 300;
  public static final int DEFAULT_OUTPUT_SECONDS = 120;

  public static final PhaseTimeouts NONE = new PhaseTimeouts(null, null, null, null, null);

  /** These values, with {@code over}'s non-null ones replacing them. */
  public PhaseTimeouts overriddenBy(PhaseTimeouts over) {
    if (over == null) {
      return this;
    }
    return new PhaseTimeouts(
        over.slotWaitSeconds != null ? over.slotWaitSeconds : slotWaitSeconds,
        over.modelStartSeconds != null ? over.modelStartSeconds : modelStartSeconds,
        over.queueWaitSeconds != null ? over.queueWaitSeconds : queueWaitSeconds,
        over.stallSeconds != null ? over.stallSeconds : stallSeconds,
        over.outputSeconds != null ? over.outputSeconds : outputSeconds);
  }

  public Duration slotWait() {
    return Duration.ofSeconds(
        slotWaitSeconds != null ? slotWaitSeconds : DEFAULT_SLOT_WAIT_SECONDS);
  }

  /** The model's start timeout unless the template sets its own. */
  public int modelStartSeconds(int modelDefault) {
    return modelStartSeconds != null ? modelStartSeconds : modelDefault;
  }

  public Duration queueWait() {
    return Duration.ofSeconds(
        queueWaitSeconds != null ? queueWaitSeconds : DEFAULT_QUEUE_WAIT_SECONDS);
  }

  public Duration stall() {
    return Duration.ofSeconds(stallSeconds != null ? stallSeconds : DEFAULT_STALL_SECONDS);
  }

  public Duration output() {
    return Duration.ofSeconds(outputSeconds != null ? outputSeconds : DEFAULT_OUTPUT_SECONDS);
  }
}
