package io.tempera.generation;

/**
 * One stored output file.
 *
 * @param name unique within the generation; the API serves it at /outputs/{name}
 * @param path relative to the output root: {projectId}/outputs/renders/{nodeId}/{file}
 */
public record OutputRef(
    String name, String path, String contentType, long sizeBytes, Integer width, Integer height) {}
