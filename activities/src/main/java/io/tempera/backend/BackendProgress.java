package io.tempera.backend;

/**
 * Progress a backend reports while it runs a job, in the product's terms.
 *
 * @param fraction overall 0..1 of the backend run
 * @param queuePosition position in the backend's own queue while waiting (1 = next), else null
 * @param previewImage an intermediate image (PNG or JPEG bytes) when the backend sent one, else
 *     null
 * @param notice the message is news the person must see as it is (the backend stopped answering and
 *     is waited for), not the usual "generating" that a template's own wording replaces
 * @param etaSeconds the backend's own estimate of the seconds until the run ends, counted from now
 *     (Gradio's: queue wait and expected duration), else null
 * @param startsInSeconds while the run waits in the backend's queue: the backend's estimate of the
 *     seconds until it starts, else null
 */
@SuppressWarnings(
    "ArrayRecordComponent") // the preview's bytes pass through; progress is never compared
public record BackendProgress(
    double fraction,
    Integer step,
    Integer totalSteps,
    Integer queuePosition,
    String message,
    byte[] previewImage,
    boolean notice,
    Double etaSeconds,
    Double startsInSeconds) {

  /** What a person is told while a backend that stopped answering is waited for. */
  public static final String NOT_ANSWERING =
      "The generator is not answering; waiting for it to come back";

  /** The notice that the backend stopped answering and is waited for. */
  public static BackendProgress notAnswering() {
    return new BackendProgress(0, null, null, null, NOT_ANSWERING, null, true);
  }

  public BackendProgress(
      double fraction,
      Integer step,
      Integer totalSteps,
      Integer queuePosition,
      String message,
      byte[] previewImage,
      boolean notice) {
    this(fraction, step, totalSteps, queuePosition, message, previewImage, notice, null, null);
  }

  public BackendProgress(
      double fraction,
      Integer step,
      Integer totalSteps,
      Integer queuePosition,
      String message,
      byte[] previewImage) {
    this(fraction, step, totalSteps, queuePosition, message, previewImage, false);
  }
}
