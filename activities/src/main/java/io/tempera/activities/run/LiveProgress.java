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
  private final java.util.function.LongSupplier clock;
  private final long startedAt;
  private volatile long previewWrittenAt;
  private volatile String previewUrl;

  /** When the run left the backend's queue and started (-1: not yet). */
  private long runStartedAt = -1;

  /** When the backend itself expects the run to end (its own estimate; -1: it gave none). */
  private long backendEndsAt = -1;

  /** The earliest end told so far (-1: none): the ETA a client sees never goes up. */
  private long toldEndsAt = -1;

  LiveProgress(
      BackendJob job,
      AtomicReference<BackendActivitiesImpl.RunHeartbeat> last,
      OutputStore outputs,
      ProgressBus progress,
      DurationHistory durations) {
    this(job, last, outputs, progress, durations, System::currentTimeMillis);
  }

  /**
   * @param clock the wall clock in milliseconds
   */
  LiveProgress(
      BackendJob job,
      AtomicReference<BackendActivitiesImpl.RunHeartbeat> last,
      OutputStore outputs,
      ProgressBus progress,
      DurationHistory durations,
      java.util.function.LongSupplier clock) {
    this.job = job;
    this.last = last;
    this.outputs = outputs;
    this.progress = progress;
    this.durations = durations;
    this.clock = clock;
    this.startedAt = clock.getAsLong();
  }

  /** When this attempt began following the run (wall clock, milliseconds). */
  long startedAtMillis() {
    return startedAt;
  }

  /** When the run left the backend's queue and started (wall clock; -1: it never told). */
  synchronized long runStartedAtMillis() {
    return runStartedAt;
  }

  /** How long the run took: from when it left the backend's queue (its start, if it never told). */
  synchronized double elapsedSeconds() {
    return (clock.getAsLong() - (runStartedAt < 0 ? startedAt : runStartedAt)) / 1000.0;
  }

  synchronized void accept(BackendProgress p) {
    double fraction = Math.max(0, Math.min(1, p.fraction()));
    double overall = 0.05 + 0.9 * fraction;
    last.set(new BackendActivitiesImpl.RunHeartbeat(job.runId(), overall));
    long now = clock.getAsLong();
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
    boolean queued = p.queuePosition() != null;
    if (p.notice()) {
      // the backend stopped answering: what was told no longer holds
      runStartedAt = -1;
      backendEndsAt = -1;
      toldEndsAt = -1;
    } else if (!queued && runStartedAt < 0) {
      runStartedAt = now;
    }
    if (p.etaSeconds() != null && p.etaSeconds() >= 0) {
      backendEndsAt = now + Math.round(p.etaSeconds() * 1000);
    }
    OptionalDouble typical =
        durations.averageSeconds(job.plan().functionId(), job.plan().tierUsed());
    Integer eta = p.notice() ? null : told(eta(p, fraction, queued, typical, now), now);
    Integer startsIn = queued ? startsIn(p, typical) : null;
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
            queued || p.notice() ? p.message() : message,
            now,
            eta,
            previewUrl,
            startsIn,
            queued ? ProgressEvent.WAITING_FOR_BACKEND : null));
  }

  /**
   * While queued, the seconds until the run starts: the backend's own figure, else its estimate to
   * the end less how long this function took at this tier recently; null when neither is known.
   */
  private static Integer startsIn(BackendProgress p, OptionalDouble typical) {
    if (p.startsInSeconds() != null && p.startsInSeconds() >= 0) {
      return (int) Math.ceil(p.startsInSeconds());
    }
    if (p.etaSeconds() != null && typical.isPresent()) {
      return (int) Math.ceil(Math.max(0, p.etaSeconds() - typical.getAsDouble()));
    }
    return null;
  }

  /** The ETA told: never later than one told before (a client's countdown never goes back up). */
  private Integer told(Integer eta, long now) {
    if (eta == null) {
      return toldEndsAt < 0 ? null : seconds(toldEndsAt - now);
    }
    long endsAt = now + eta * 1000L;
    toldEndsAt = toldEndsAt < 0 ? endsAt : Math.min(toldEndsAt, endsAt);
    return seconds(toldEndsAt - now);
  }

  /**
   * Seconds left. Waiting in the backend's queue: the backend's own estimate (its wait and the
   * run's expected length), else the wait it tells plus how long this function took at this tier
   * recently. Running: from the speed since the run started (queue time never counts) once it made
   * some progress, before that from the backend's own estimate, else from recent runs.
   */
  private Integer eta(
      BackendProgress p, double fraction, boolean queued, OptionalDouble typical, long now) {
    if (queued) {
      if (backendEndsAt >= 0 && p.etaSeconds() != null) {
        return seconds(backendEndsAt - now);
      }
      if (p.startsInSeconds() != null && typical.isPresent()) {
        return (int) Math.ceil(p.startsInSeconds() + typical.getAsDouble());
      }
      return null;
    }
    double running = (now - (runStartedAt < 0 ? now : runStartedAt)) / 1000.0;
    if (fraction >= 0.05 && fraction < 1 && running > 0) {
      return (int) Math.ceil(running * (1 - fraction) / fraction);
    }
    if (fraction >= 1) {
      return null;
    }
    if (backendEndsAt >= 0) {
      return seconds(backendEndsAt - now);
    }
    if (typical.isPresent()) {
      return (int) Math.max(1, Math.ceil(typical.getAsDouble() - running));
    }
    return null;
  }

  private static int seconds(long millis) {
    return (int) Math.max(1, Math.ceil(millis / 1000.0));
  }

  private void writePreview(byte[] image) {
    try {
      Path file = outputs.previewFile(job.projectId(), job.generationId());
      outputs.directoryForWriting(file.getParent()); // no symbolic link below the root
      Path temp = Files.createTempFile(file.getParent(), ".preview-", ".part");
      Files.write(temp, image);
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      previewUrl = "/api/generations/" + job.generationId() + "/preview";
    } catch (IOException | RuntimeException e) {
      log.debug("could not store a preview of {}", job.generationId(), e);
    }
  }
}
