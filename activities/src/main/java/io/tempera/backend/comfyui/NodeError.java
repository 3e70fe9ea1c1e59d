package io.tempera.backend.comfyui;

/** One validation error of one node, from a 400 on POST /prompt. */
public record NodeError(
    String nodeId,
    String classType,
    String type,
    String message,
    String details,
    String inputName) {}
