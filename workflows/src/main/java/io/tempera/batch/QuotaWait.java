package io.tempera.batch;

/**
 * Why the batch's next generation waits to start: its project is at a quota (or the queue is full),
 * as a single generation would be refused with {@code code}; it is tried again at {@code until}.
 */
public record QuotaWait(String code, String message, String until) {}
