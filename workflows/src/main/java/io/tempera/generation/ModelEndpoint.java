package io.tempera.generation;

/**
 * A model's service, started or reused on the leased host: its backend protocol answers at {@code
 * baseUrl}.
 */
public record ModelEndpoint(
    String modelId, String containerId, String baseUrl, boolean reused, long coldStartMillis) {}
