package io.tempera.slots;

/**
 * A waiting holder and its place in its pool's line (1 = next).
 *
 * @param waitSeconds the allocator's estimate of how long until it is granted a slot: its place
 *     times the measured mean lease length over the pool's slots; null when not measured yet
 * @param etaSeconds the same plus one mean lease: until it ends; null with {@code waitSeconds}
 */
public record WaitingPlace(String holder, int position, Integer waitSeconds, Integer etaSeconds) {

  /** A place without an estimate (the allocator measured no lease yet, or ran older code). */
  public WaitingPlace(String holder, int position) {
    this(holder, position, null, null);
  }
}
