package io.tempera.batch;

/**
 * Whether a batch's next generation may start now, as the API would answer a single generation of
 * its project: admitted, or refused with the quota's code, a sentence and when to try again.
 */
public record Admission(boolean admitted, String code, String message, int retryAfterSeconds) {

  public static Admission yes() {
    return new Admission(true, null, null, 0);
  }

  public static Admission refused(String code, String message, int retryAfterSeconds) {
    return new Admission(false, code, message, retryAfterSeconds);
  }
}
