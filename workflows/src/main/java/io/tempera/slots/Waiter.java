package io.tempera.slots;

/**
 * A queued lease request and the place its holder was last told.
 *
 * @param queuedAt when it joined the line (workflow time, ms); null in a state written before
 *     priorities
 */
public record Waiter(LeaseRequest request, int notifiedPosition, Long queuedAt) {

  public Waiter(LeaseRequest request, int notifiedPosition) {
    this(request, notifiedPosition, null);
  }

  public Waiter at(int position) {
    return new Waiter(request, position, queuedAt);
  }
}
