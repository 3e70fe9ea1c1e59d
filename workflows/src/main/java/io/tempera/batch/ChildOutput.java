package io.tempera.batch;

/** One stored output of a batch's generation: its name (its URL is the generation's) and type. */
public record ChildOutput(String name, String contentType) {}
