package io.tempera.slots;

/**
 * A generation asking for a slot.
 *
 * @param holder the generation's workflow id: leases and queue places are keyed by it
 * @param vramMb the GPU memory the generation's model needs (0: a slot, no memory)
 * @param projectId the generation's project: waiters share the pool fairly between projects (null,
 *     as in a request written before fair share: one shared line)
 * @param priority 1 (first) to 5 (last), as Temporal's task-queue priority keys; null: {@link
 *     #DEFAULT_PRIORITY}
 * @param weight the project's share of the pool against other projects waiting at the same priority
 *     (null or less than 1: 1); the API's configuration, carried by the generation's request
 */
public record LeaseRequest(
    String holder,
    int vramMb,
    String functionId,
    String tier,
    String projectId,
    Integer priority,
    Integer weight) {

  /** The priority of a request that names none (Temporal's default priority key). */
  public static final int DEFAULT_PRIORITY = 3;

  public static final int HIGHEST_PRIORITY = 1;
  public static final int LOWEST_PRIORITY = 5;

  /** A request without project or priority (the single shared line). */
  public LeaseRequest(String holder, int vramMb, String functionId, String tier) {
    this(holder, vramMb, functionId, tier, null, null, null);
  }

  /** Whether it carries what fair share and priorities order by. */
  public boolean ordered() {
    return projectId != null || priority != null;
  }

  /** Its priority, 1 (first) to 5. */
  public int priorityOrDefault() {
    return priority == null
        ? DEFAULT_PRIORITY
        : Math.max(HIGHEST_PRIORITY, Math.min(LOWEST_PRIORITY, priority));
  }

  /** Its project's weight, at least 1. */
  public int weightOrDefault() {
    return weight == null || weight < 1 ? 1 : weight;
  }

  /** The same request asking for this much GPU memory. */
  public LeaseRequest withVramMb(int mb) {
    return new LeaseRequest(holder, mb, functionId, tier, projectId, priority, weight);
  }
}
