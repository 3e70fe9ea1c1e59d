package io.tempera.progress;

/**
 * A live update about one generation. Not stored in workflow history: it travels on the progress
 * bus (channel {@code task:progress:{generationId}}).
 *
 * @param seq increases by one per event of a generation, so a reconnecting client can resume
 * @param type phase, progress or preview
 * @param progress overall 0..1
 * @param etaSeconds estimated seconds left, from the speed so far (null until it can be told)
 * @param previewUrl where the latest preview image is served, when the backend sends previews
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
    String previewUrl) {

  public static final String PHASE = "phase";
  public static final String PROGRESS = "progress";

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
        previewUrl);
  }
}
