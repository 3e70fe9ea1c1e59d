package io.tempera.slots;

/** One GPU of a worker host, as the host declares it (a virtual one on machines without GPUs). */
public record Gpu(int index, int vramMb) {}
