package io.tempera.slots;

/** A queued lease request and the place its holder was last told. */
public record Waiter(LeaseRequest request, int notifiedPosition) {}
