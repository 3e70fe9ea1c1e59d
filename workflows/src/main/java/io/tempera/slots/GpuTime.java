package io.tempera.slots;

import java.util.List;

/**
 * What an allocator measured of its leases, carried across continue-as-new (since {@link
 * SlotAllocatorWorkflowImpl#GPU_TIME_CHANGE}): the GPU time each project's leases held per clock
 * hour (UTC), the clock of each lease held now, and how long leases held, on average.
 *
 * @param hours GPU time per project and hour, the current and the last hour only
 * @param clocks one per lease held: when it was granted and up to when its time is counted
 * @param finishedLeases how many leases ended since the pool's allocator first measured
 * @param meanLeaseMillis the moving average of how long a lease was held (0 until one ended)
 * @param millisPerGrant the moving average of the time between grants while the line waited (0
 *     until measured, and in a run before {@link SlotAllocatorWorkflowImpl#GRANT_PACE_CHANGE})
 */
public record GpuTime(
    List<ProjectHour> hours,
    List<LeaseClock> clocks,
    long finishedLeases,
    double meanLeaseMillis,
    double millisPerGrant) {

  public GpuTime {
    hours = hours == null ? List.of() : List.copyOf(hours);
    clocks = clocks == null ? List.of() : List.copyOf(clocks);
  }

  public GpuTime(
      List<ProjectHour> hours,
      List<LeaseClock> clocks,
      long finishedLeases,
      double meanLeaseMillis) {
    this(hours, clocks, finishedLeases, meanLeaseMillis, 0);
  }

  public static GpuTime none() {
    return new GpuTime(List.of(), List.of(), 0, 0);
  }

  /**
   * GPU time one project's leases held in one clock hour.
   *
   * @param project the project's key in its generations' ids ({@code gen-<project>-<request>}),
   *     empty for a holder that is no generation
   * @param hourStartMillis the hour's start, epoch milliseconds (a multiple of 3 600 000)
   */
  public record ProjectHour(String project, long hourStartMillis, long gpuMillis) {}

  /** The clock of a lease held now: granted at {@code grantedAt}, counted up to {@code counted}. */
  public record LeaseClock(String leaseId, String project, long grantedAt, long counted) {}
}
