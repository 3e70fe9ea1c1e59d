package io.tempera.quotas;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Whether one more generation of a project is admitted, from what is counted now: the project's GPU
 * time this hour, its generations holding a GPU, its generations waiting, and every project's
 * waiting together. A refusal says which limit, in a sentence, and when to try again.
 *
 * <p>When to try again is estimated from the pools' measured lease lengths (the moving mean {@code
 * S} of how long a lease was held; {@link #UNMEASURED_SECONDS} until one lease has ended), with
 * {@code L} leases held now: one of the project's {@code n} running generations ends in about
 * {@code S/n}; a lease in the pool ends every {@code S/L}, so the project's first waiting
 * generation, at place {@code p}, starts in about {@code p·S/L}, and a place in a full queue frees
 * in about {@code S/L}. GPU time comes back at the next clock hour. Always 1 s to 1 h.
 */
public final class Admission {

  /** When to try again while no lease length has been measured yet. */
  public static final int UNMEASURED_SECONDS = 10;

  static final long HOUR_MILLIS = 3_600_000L;
  private static final DateTimeFormatter HOUR_MINUTE =
      DateTimeFormatter.ofPattern("HH:mm").withZone(ZoneOffset.UTC);

  private Admission() {}

  /** A refused admission: the stable code, a sentence for a person, seconds until worth a retry. */
  public record Refusal(String code, String message, int retryAfterSeconds) {}

  /**
   * The refusal of one more generation of {@code projectId}, or null when it is admitted.
   *
   * @param project the project's counts, its own admissions not yet seen by the allocator included
   *     in {@code queued}
   * @param usage every pool's counts, every admission not yet seen included in {@code waiting}
   */
  public static Refusal check(
      String projectId,
      QuotaProperties.Limits limits,
      int maxQueuedTotal,
      Usage.Counts project,
      Usage usage,
      int waitingTotal,
      long nowMillis) {
    if (limits.gpuSecondsPerHour() != null
        && project.gpuMillis() >= limits.gpuSecondsPerHour() * 1000) {
      long nextHour = Math.floorDiv(nowMillis, HOUR_MILLIS) * HOUR_MILLIS + HOUR_MILLIS;
      return new Refusal(
          "QUOTA_GPU_TIME",
          "Project "
              + projectId
              + " used "
              + project.gpuMillis() / 1000
              + " GPU-seconds this hour, its limit is "
              + limits.gpuSecondsPerHour()
              + "; try again after "
              + HOUR_MINUTE.format(Instant.ofEpochMilli(nextHour))
              + " UTC.",
          clamp((nextHour - nowMillis + 999) / 1000));
    }
    double lease = meanLeaseSeconds(usage);
    int held = Math.max(1, usage.leasesHeld());
    if (limits.maxRunning() != null && project.running() >= limits.maxRunning()) {
      return new Refusal(
          "QUOTA_RUNNING",
          "Project "
              + projectId
              + " already runs "
              + project.running()
              + (project.running() == 1 ? " generation" : " generations")
              + ", its limit; try again when one has finished.",
          clamp(Math.ceil(lease / Math.max(1, project.running()))));
    }
    if (limits.maxQueued() != null && project.queued() >= limits.maxQueued()) {
      int place = project.firstPlace() > 0 ? project.firstPlace() : usage.waiting() + 1;
      return new Refusal(
          "QUOTA_QUEUED",
          "Project "
              + projectId
              + " already has "
              + project.queued()
              + (project.queued() == 1 ? " generation" : " generations")
              + " waiting, its limit; try again when some have started.",
          clamp(Math.ceil(place * lease / held)));
    }
    if (maxQueuedTotal > 0 && waitingTotal >= maxQueuedTotal) {
      return new Refusal(
          "QUEUE_FULL",
          "The queue is full: "
              + waitingTotal
              + " generations wait for a GPU, the most this server takes; try again shortly.",
          clamp(Math.ceil(lease / held)));
    }
    return null;
  }

  /** The measured mean lease length in seconds, or {@link #UNMEASURED_SECONDS}. */
  static double meanLeaseSeconds(Usage usage) {
    return usage.finishedLeases() > 0 && usage.meanLeaseMillis() > 0
        ? usage.meanLeaseMillis() / 1000.0
        : UNMEASURED_SECONDS;
  }

  private static int clamp(double seconds) {
    return (int) Math.max(1, Math.min(3600, Math.ceil(seconds)));
  }
}
