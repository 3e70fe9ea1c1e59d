package io.tempera.backend;

/**
 * Progress a backend reports while it runs a job, in the product's terms.
 *
 * @param fraction overall 0..1 of the backend run
 * @param queuePosition position in the backend's own queue while waiting (0 = next), else null
 */
public record BackendProgress(double fraction, Integer step, Integer totalSteps, Integer queuePosition, String message) {}
