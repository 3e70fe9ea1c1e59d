package io.tempera.activities.run;

import io.tempera.backend.BackendProgress;
import io.tempera.generation.BackendJob;
import io.tempera.generation.Phase;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.OptionalDouble;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a backend's progress into live events: overall progress, an ETA from the speed so far, and
 * the latest preview image written next to the outputs (at most four times a second).
 */
final class LiveProgress {

  private static final Logger log = LoggerFactory.getLogger(LiveProgress.class);
  private static final long PREVIEW_EVERY_MILLIS = 250;

  private final BackendJob job;
  private final AtomicReference<BackendActivitiesImpl.RunHeartbeat> last;
  private final OutputStore outputs;
  private final ProgressBus progress;
  private final DurationHistory durations;
  private final long startedAt = System.currentTimeMillis();
  private volatile long previewWrittenAt;
  private volatile String previewUrl;

  LiveProgress(
      BackendJob job,
      AtomicReference<BackendActivitiesImpl.RunHeartbeat> last,
      OutputStore outputs,
      ProgressBus progress,
      DurationHistory durations) {
    this.job = job;
    this.last = last;
    this.outputs = outputs;
    this.progress = progress;
    this.durations = durations;
  }

  double elapsedSeconds() {
    return (System.currentTimeMillis() - startedAt) / 1000.0;
  }

  void accept(BackendProgress p) {
    double fraction = Math.max(0, Math.min(1, p.fraction()));
    double overall = 0.05 + 0.9 * fraction;
    last.set(new BackendActivitiesImpl.RunHeartbeat(job.runId(), overall));
    long now = System.currentTimeMillis();
    if (p.previewImage() != null && now - previewWrittenAt >= PREVIEW_EVERY_MILLIS) {
      previewWrittenAt = now;
      writePreview(p.previewImage());
    }
    String creative = job.plan().progressMessages().get(Phase.GENERATING.name());
    String message =
        creative == null
            ? p.message()
            : p.step() != null && p.totalSteps() != null
                ? creative + " (step " + p.step() + " of " + p.totalSteps() + ")"
                : creative;
    Integer eta = eta(fraction, now);
    progress.publish(
        new ProgressEvent(
            job.generationId(),
            0,
            ProgressEvent.PROGRESS,
            Phase.GENERATING.name(),
            overall,
            p.step(),
            p.totalSteps(),
            p.queuePosition(),
            p.queuePosition() != null || p.notice() ? p.message() : message,
            now,
            eta,
            previewUrl));
  }

  /**
   * Seconds left: from the speed so far once the run has made some progress, before that from how
   * long this function took at this tier recently.
   */
  private Integer eta(double fraction, long now) {
    double elapsed = (now - startedAt) / 1000.0;
    if (fraction >= 0.05 && fraction < 1) {
      return (int) Math.ceil(elapsed * (1 - fraction) / fraction);
    }
    if (fraction < 0.05) {
      OptionalDouble typical =
          durations.averageSeconds(job.plan().functionId(), job.plan().tierUsed());
      if (typical.isPresent()) {
        return (int) Math.max(1, Math.ceil(typical.getAsDouble() - elapsed));
      }
    }
    return null;
  }

  private void writePreview(byte[] image) {
    try {
      Path file = outputs.previewFile(job.projectId(), job.generationId());
      Files.createDirectories(file.getParent());
      Path temp = Files.createTempFile(file.getParent(), ".preview-", ".part");
      Files.write(temp, image);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      previewUrl = "/api/generations/" + job.generationId() + "/preview";
    } catch (IOException | RuntimeException e) {
      log.debug("could not store a preview of {}", job.generationId(), e);
    }
  }
}
