package io.tempera.slots;

import java.util.List;

/**
 * A worker host offering its GPUs to a slot pool. Sent again on every worker start: the newest
 * registration of a host id replaces the older one, its existing leases stay.
 *
 * @param taskQueue the host's own task queue, where a leased generation's later activities run
 * @param maxLeases how many generations the host runs at once, whatever their memory
 */
public record HostRegistration(String hostId, String taskQueue, List<Gpu> gpus, int maxLeases) {

  public HostRegistration {
    gpus = gpus == null ? List.of() : List.copyOf(gpus);
  }

  /** The task queue of a host id: later activities of generations leased there. */
  public static String taskQueueFor(String hostId) {
    return "tempera-host-" + hostId;
  }
}
