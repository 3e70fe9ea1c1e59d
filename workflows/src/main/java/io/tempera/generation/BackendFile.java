package io.tempera.generation;

/** A file a backend produced, as the backend names it (for ComfyUI: a /view reference). */
public record BackendFile(String producer, String kind, String filename, String subfolder, String type) {}
