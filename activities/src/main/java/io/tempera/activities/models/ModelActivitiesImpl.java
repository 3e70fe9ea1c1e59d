package io.tempera.activities.models;

import io.tempera.activities.Heartbeats;
import io.tempera.activities.PhaseEvents;
import io.tempera.backend.BackendMessages;
import io.tempera.containers.ModelHost;
import io.tempera.containers.ModelHostException;
import io.tempera.containers.RunningModel;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.ModelActivities;
import io.tempera.generation.ModelEndpoint;
import io.tempera.generation.ModelStart;
import io.tempera.generation.Phase;
import io.tempera.models.ModelSpec;
import io.tempera.observability.GenerationLogContext;
import io.tempera.observability.GenerationMeters;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** Starts and releases model containers on this host's container engine (null: it runs none). */
public class ModelActivitiesImpl implements ModelActivities {

  private static final Logger log = LoggerFactory.getLogger(ModelActivitiesImpl.class);

  private final ModelHost host;
  private final String hostId;
  private final PhaseEvents phases;
  private final io.micrometer.core.instrument.MeterRegistry metrics;

  public ModelActivitiesImpl(ModelHost host, String hostId, PhaseEvents phases) {
    this(host, hostId, phases, null);
  }

  /**
   * @param metrics where the model_start phase is recorded (null: nowhere)
   */
  public ModelActivitiesImpl(
      ModelHost host,
      String hostId,
      PhaseEvents phases,
      io.micrometer.core.instrument.MeterRegistry metrics) {
    this.host = host;
    this.hostId = hostId == null ? "this host" : hostId;
    this.phases = phases;
    this.metrics = metrics;
  }

  @Override
  public ModelEndpoint startModel(ModelStart start) {
    ModelSpec model = start.model();
    if (model == null || !model.containerised()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Model " + (model == null ? "(none)" : model.id()) + " does not run in a container",
          ErrorCode.INTERNAL.name());
    }
    if (host == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Model "
              + model.id()
              + " runs in a container, but this worker host ("
              + hostId
              + ") runs no container engine",
          ErrorCode.MODEL_UNAVAILABLE.name());
    }
    // the person sees what is happening, never the model's name (seed 002)
    phases.entered(start.holder(), Phase.STARTING_MODEL, 0.03, "Preparing the generator");
    try (Heartbeats beats =
        Heartbeats.start(Activity.getExecutionContext(), () -> "starting " + model.id())) {
      long began = System.nanoTime();
      RunningModel running = host.acquire(start.holder(), model, start.gpuIndex());
      beats.throwIfStopped();
      // the function and tier: the generation's log context, which the workflow's header carries
      GenerationMeters.phase(
          metrics,
          GenerationMeters.MODEL_START,
          MDC.get(GenerationLogContext.FUNCTION_ID),
          MDC.get(GenerationLogContext.TIER),
          java.time.Duration.ofNanos(System.nanoTime() - began));
      log.info(
          "generation {}: model {} at {} ({})",
          start.holder(),
          model.id(),
          running.baseUrl(),
          running.reused() ? "reused" : "started in " + running.coldStartMillis() + " ms");
      return new ModelEndpoint(
          running.modelId(),
          running.containerId(),
          running.baseUrl(),
          running.reused(),
          running.coldStartMillis());
    } catch (ModelHostException e) {
      throw failure(model, e);
    }
  }

  @Override
  public void releaseModel(ModelStart start) {
    if (host != null && start.model() != null) {
      host.release(start.holder(), start.model().id());
    }
  }

  /** What the engine and the container said, for operators only: the cause, the log's end. */
  private static String operatorText(ModelHostException e) {
    String cause = e.getCause() == null ? "" : e.getCause().toString();
    String tail = e.logTail() == null ? "" : e.logTail();
    String text = cause.isBlank() || tail.isBlank() ? cause + tail : cause + "\n" + tail;
    return text.isBlank() ? null : text;
  }

  /**
   * A model host's failure as the activity's typed failure. The end of the container's log (a
   * backend's own output: paths, tracebacks) is for operators only: the failure's details and the
   * log, never the message a person reads.
   */
  public static ApplicationFailure failure(ModelSpec model, ModelHostException e) {
    return BackendMessages.failure(
        "Model " + model.id() + ": " + e.getMessage(),
        e.code(),
        !e.code().retryable(),
        "the container of model " + model.id(),
        operatorText(e));
  }
}
