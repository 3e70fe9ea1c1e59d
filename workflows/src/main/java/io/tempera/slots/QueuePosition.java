package io.tempera.slots;

/**
 * A waiting holder's place in its pool's queue (1 = next), with the allocator's sequence number.
 */
public record QueuePosition(int position, long seq) {}
