package io.tempera.slots;

/**
 * A granted slot: {@code vramMb} of GPU {@code gpuIndex} on host {@code hostId}, whose own task
 * queue runs the holder's later activities. Released exactly once, on every way a generation ends.
 */
public record Lease(
    String leaseId,
    String pool,
    String holder,
    String hostId,
    String taskQueue,
    int gpuIndex,
    int vramMb) {}
