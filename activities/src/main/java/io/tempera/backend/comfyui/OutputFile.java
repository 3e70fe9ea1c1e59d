package io.tempera.backend.comfyui;

/** A file a node produced, as /history lists it and /view serves it. */
public record OutputFile(
    String nodeId, String kind, String filename, String subfolder, String type) {}
