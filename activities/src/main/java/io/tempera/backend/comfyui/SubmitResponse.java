package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.JsonNode;

/** POST /prompt's answer. node_errors can be non-empty on a 200 (invalid outputs dropped). */
public record SubmitResponse(String promptId, long number, JsonNode nodeErrors) {}
