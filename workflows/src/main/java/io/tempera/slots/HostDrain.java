package io.tempera.slots;

/**
 * An operator drains a host (it gets no new lease; the leases it holds run to their end) or puts it
 * back ({@code drained} false). Idempotent.
 *
 * @param reason why, for the allocator's log (may be null)
 */
public record HostDrain(String hostId, boolean drained, String reason) {

  public static HostDrain drain(String hostId, String reason) {
    return new HostDrain(hostId, true, reason);
  }

  public static HostDrain undrain(String hostId, String reason) {
    return new HostDrain(hostId, false, reason);
  }
}
