package io.tempera.activities.outputs;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.activities.Heartbeats;
import io.tempera.activities.PhaseEvents;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendRegistry;
import io.tempera.generation.BackendFile;
import io.tempera.generation.CollectRequest;
import io.tempera.generation.OutputActivities;
import io.tempera.generation.OutputRef;
import io.tempera.generation.Phase;
import io.tempera.observability.GenerationLogContext;
import io.tempera.observability.GenerationMeters;
import io.tempera.outputs.OutputStore;
import io.temporal.activity.Activity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.MDC;

/** Downloads a run's files from its backend into the project's renders folder. */
public class OutputActivitiesImpl implements OutputActivities {

  private final BackendRegistry backends;
  private final OutputStore outputs;
  private final PhaseEvents phases;
  private final MeterRegistry metrics;

  public OutputActivitiesImpl(
      BackendRegistry backends, OutputStore outputs, PhaseEvents phases, MeterRegistry metrics) {
    this.backends = backends;
    this.outputs = outputs;
    this.phases = phases;
    this.metrics = metrics;
  }

  @Override
  public List<OutputRef> collectOutputs(CollectRequest request) {
    long began = System.nanoTime();
    List<OutputRef> collected = collect(request);
    GenerationMeters.phase(
        metrics,
        GenerationMeters.COLLECTION,
        MDC.get(GenerationLogContext.FUNCTION_ID),
        MDC.get(GenerationLogContext.TIER),
        java.time.Duration.ofNanos(System.nanoTime() - began));
    return collected;
  }

  private List<OutputRef> collect(CollectRequest request) {
    phases.entered(
        request.generationId(), Phase.COLLECTING_OUTPUTS, 0.95, Phase.COLLECTING_OUTPUTS.message());
    Backend backend = backends.get(request.backendType());
    Path dir = outputs.rendersDir(request.projectId(), request.nodeId());
    try {
      // made one element at a time, refusing a symbolic link anywhere below the output root
      outputs.directoryForWriting(dir);
    } catch (io.tempera.outputs.OutputStore.UnsafePathException e) {
      throw io.temporal.failure.ApplicationFailure.newNonRetryableFailure(
          "The outputs of node "
              + request.nodeId()
              + " cannot be stored: "
              + e.getMessage()
              + " under the output root",
          io.tempera.generation.ErrorCode.INVALID_REQUEST.name());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
    List<OutputRef> refs = new CopyOnWriteArrayList<>();
    try (Heartbeats beats = Heartbeats.start(Activity.getExecutionContext(), refs::size)) {
      for (BackendFile file : request.files()) {
        beats.throwIfStopped();
        String name = outputName(request.generationId(), file.filename());
        Path target = dir.resolve(name);
        long bytes = backend.download(file, target);
        metrics.summary("tempera.outputs.bytes", "backend", backend.type()).record((double) bytes);
        refs.add(outputs.describe(name, target));
      }
      beats.throwIfStopped();
    }
    return List.copyOf(refs);
  }

  /**
   * A stored file's name: the generation id and the backend's base name, safe for any file system.
   */
  public static String outputName(String generationId, String backendName) {
    String base = backendName.substring(backendName.lastIndexOf('/') + 1);
    return (generationId + "_" + base).replaceAll("[^A-Za-z0-9_.-]", "_");
  }
}
