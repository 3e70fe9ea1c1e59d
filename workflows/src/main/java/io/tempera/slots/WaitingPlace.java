package io.tempera.slots;

/** A waiting holder and its place in its pool's line (1 = next). */
public record WaitingPlace(String holder, int position) {}
