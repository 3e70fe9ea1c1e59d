package io.tempera.generation;

/** Ask for a place to run: a slot on a backend able to run this function at this tier. */
public record SlotRequest(String generationId, String functionId, String tier, String backendType) {}
