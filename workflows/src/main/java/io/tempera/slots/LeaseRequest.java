package io.tempera.slots;

/**
 * A generation asking for a slot.
 *
 * @param holder the generation's workflow id: leases and queue places are keyed by it
 * @param vramMb the GPU memory the generation's model needs (0: a slot, no memory)
 */
public record LeaseRequest(String holder, int vramMb, String functionId, String tier) {}
