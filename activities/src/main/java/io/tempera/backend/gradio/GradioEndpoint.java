package io.tempera.backend.gradio;

import io.tempera.backend.CircuitBreaker;

/** One Gradio server of the backend, with its circuit breaker. */
public record GradioEndpoint(String name, GradioClient client, CircuitBreaker breaker) {}
