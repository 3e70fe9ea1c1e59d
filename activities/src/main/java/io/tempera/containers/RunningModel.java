package io.tempera.containers;

/**
 * A model's service as started or found on this host.
 *
 * @param baseUrl where its backend protocol answers, e.g. {@code http://127.0.0.1:32768}
 * @param reused true when an already running container was reused
 * @param coldStartMillis how long starting it took (0 when reused)
 */
public record RunningModel(
    String modelId, String containerId, String baseUrl, boolean reused, long coldStartMillis) {}
