package io.tempera.generation;

/**
 * A file a backend produced, as the backend names it (for ComfyUI: a /view reference).
 *
 * @param origin which endpoint of the backend holds it (null: any of them)
 */
public record BackendFile(
    String producer, String kind, String filename, String subfolder, String type, String origin) {}
