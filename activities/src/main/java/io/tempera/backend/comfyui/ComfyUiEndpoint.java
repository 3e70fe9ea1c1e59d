package io.tempera.backend.comfyui;

import io.tempera.backend.CircuitBreaker;

/** One ComfyUI server a worker may run on, with the breaker that keeps a failing one out of use. */
public record ComfyUiEndpoint(String name, ComfyUiClient client, CircuitBreaker breaker) {}
