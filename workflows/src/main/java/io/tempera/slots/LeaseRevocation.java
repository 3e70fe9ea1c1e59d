package io.tempera.slots;

/**
 * The allocator took a lease back: its host was lost. The holder stops what it runs there and asks
 * for a lease again (it moves to another GPU).
 */
public record LeaseRevocation(String leaseId, String hostId, String reason) {}
