package io.tempera.slots;

/**
 * The allocator watching one host: the host's worker heartbeats this for {@code forSeconds}, then
 * the allocator starts the next watch. A registration starts a new {@code epoch}; a watch of an
 * older epoch is stale and means nothing.
 */
public record HostWatch(String pool, String hostId, long epoch, int forSeconds) {}
