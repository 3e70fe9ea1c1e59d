package io.tempera.slots;

/**
 * A holder gives back a lease. {@code leaseId} null releases everything the holder has or waits for
 * (a generation ending, or cancelled while waiting). Idempotent.
 */
public record LeaseRelease(String holder, String leaseId, String reason) {}
