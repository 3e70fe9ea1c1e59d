package io.tempera.generation;

/**
 * A file the backend needs before it runs: {@code projectPath} (relative to the project folder) is
 * uploaded and the backend's name for it is written into graph node {@code node}'s input {@code
 * input}.
 */
public record FileInput(String parameter, String projectPath, String node, String input) {}
