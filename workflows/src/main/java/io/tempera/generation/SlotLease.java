package io.tempera.generation;

/** A granted slot. Released exactly once, on every way a generation ends. */
public record SlotLease(String leaseId, String slotPool, String holder) {}
