package io.tempera.template;

/** One thing wrong with a request: which field, a stable code, and a sentence for a person. */
public record RequestProblem(String field, String code, String message) {}
