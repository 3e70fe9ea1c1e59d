package io.tempera.progress;

/**
 * A live update about one generation. Not stored in workflow history: it travels on the progress
 * bus (channel {@code task:progress:{generationId}}).
 *
 * @param seq increases by one per event of a generation, so a reconnecting client can resume
 * @param type phase, progress or preview; or {@link #ENDED}, the notice that the workflow ended
 * @param progress overall 0..1
 * @param etaSeconds estimated seconds left, from the speed so far (null until it can be told)
 * @param previewUrl where the latest preview image is served, when the backend sends previews
 * @param startsInSeconds while the run waits in the backend's own queue: the estimated seconds
 *     until it starts (part of etaSeconds, which counts to the end); null once it runs or when
 *     unknown
 * @param waitingFor while the generation waits: {@link #WAITING_FOR_SLOT} (in its pool's line for a
 *     GPU slot; {@code queuePosition} is its place in the allocator's line, {@code startsInSeconds}
 *     the allocator's estimate of the wait) or {@link #WAITING_FOR_BACKEND} (its run in the
 *     backend's own queue: the backend's place and estimate); null once it runs
 */
public record ProgressEvent(
    String generationId,
    long seq,
    String type,
    String phase,
    double progress,
    Integer step,
    Integer totalSteps,
    Integer queuePosition,
    String message,
    long timestampMillis,
    Integer etaSeconds,
    String previewUrl,
    Integer startsInSeconds,
    String waitingFor) {

  /** Waiting in the pool's line for a GPU slot (the slot allocator's place and estimate). */
  public static final String WAITING_FOR_SLOT = "slot";

  /** Waiting in the backend's own queue (the backend's place and estimate). */
  public static final String WAITING_FOR_BACKEND = "backend";

  public ProgressEvent(
      String generationId,
      long seq,
      String type,
      String phase,
      double progress,
      Integer step,
      Integer totalSteps,
      Integer queuePosition,
      String message,
      long timestampMillis,
      Integer etaSeconds,
      String previewUrl,
      Integer startsInSeconds) {
    this(
        generationId,
        seq,
        type,
        phase,
        progress,
        step,
        totalSteps,
        queuePosition,
        message,
        timestampMillis,
        etaSeconds,
        previewUrl,
        startsInSeconds,
        null);
  }

  public ProgressEvent(
      String generationId,
      long seq,
      String type,
      String phase,
      double progress,
      Integer step,
      Integer totalSteps,
      Integer queuePosition,
      String message,
      long timestampMillis,
      Integer etaSeconds,
      String previewUrl) {
    this(
        generationId,
        seq,
        type,
        phase,
        progress,
        step,
        totalSteps,
        queuePosition,
        message,
        timestampMillis,
        etaSeconds,
        previewUrl,
        null);
  }

  public static final String PHASE = "phase";
  public static final String PROGRESS = "progress";

  /**
   * The generation's workflow ended: a notice for its followers (who then read the end from
   * Temporal), not an update to show. Not numbered and never kept as the latest event.
   */
  public static final String ENDED = "ended";

  /** The notice that {@code generationId}'s workflow ended. */
  public static ProgressEvent ended(String generationId) {
    return new ProgressEvent(
        generationId,
        0,
        ENDED,
        null,
        0,
        null,
        null,
        null,
        null,
        System.currentTimeMillis(),
        null,
        null);
  }

  public ProgressEvent withSeq(long newSeq) {
    return new ProgressEvent(
        generationId,
        newSeq,
        type,
        phase,
        progress,
        step,
        totalSteps,
        queuePosition,
        message,
        timestampMillis,
        etaSeconds,
        previewUrl,
        startsInSeconds,
        waitingFor);
  }
}
