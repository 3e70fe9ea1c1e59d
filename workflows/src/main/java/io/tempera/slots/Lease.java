package io.tempera.slots;

/**
 * A granted slot: {@code vramMb} of GPU {@code gpuIndex} on host {@code hostId}, whose own task
 * queue runs the holder's later activities. Released exactly once, on every way a generation ends.
 *
 * @param projectId the holder's project, which fair share counts the lease against (null, as in a
 *     lease granted before fair share)
 */
public record Lease(
    String leaseId,
    String pool,
    String holder,
    String hostId,
    String taskQueue,
    int gpuIndex,
    int vramMb,
    String projectId) {

  public Lease(
      String leaseId,
      String pool,
      String holder,
      String hostId,
      String taskQueue,
      int gpuIndex,
      int vramMb) {
    this(leaseId, pool, holder, hostId, taskQueue, gpuIndex, vramMb, null);
  }
}
