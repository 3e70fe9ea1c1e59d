package io.tempera.slots;

import java.util.List;

/**
 * What a pool's allocator holds and measured, per project: the answer of its {@link
 * SlotAllocatorWorkflow#usage} query, which the API's admission and the operators' usage read.
 *
 * @param asOfMillis the allocator's time when it last counted GPU time (its last workflow task)
 * @param slots how many leases the pool's hosts (not lost) hold at most at once
 * @param leasesHeld leases held now
 * @param waiting requests waiting in the pool's queue
 * @param finishedLeases leases that ended since the allocator first measured (0: no measure yet)
 * @param meanLeaseMillis how long a lease was held, on average (moving)
 * @param gpuTimeMeasured whether this allocator counts GPU time (a run of older code does not)
 * @param projects per project holding or waiting, or with GPU time this hour
 * @param known which of the holders the query named hold a lease or wait here
 */
public record PoolUsage(
    String pool,
    long asOfMillis,
    int slots,
    int leasesHeld,
    int waiting,
    long finishedLeases,
    double meanLeaseMillis,
    boolean gpuTimeMeasured,
    List<Project> projects,
    List<String> known) {

  public PoolUsage {
    projects = projects == null ? List.of() : List.copyOf(projects);
    known = known == null ? List.of() : List.copyOf(known);
  }

  /**
   * One project's part of the pool.
   *
   * @param project the project's key in its generations' ids ({@code gen-<project>-…})
   * @param running leases its generations hold
   * @param queued its generations waiting in line
   * @param firstPlace the place in line of the first of them (0: none waits)
   * @param hourStartMillis the clock hour {@code gpuMillis} counts
   * @param gpuMillis GPU time its leases held this hour, counted up to each lease's {@code counted}
   * @param countedUpTo per lease it holds now: up to when its time is in {@code gpuMillis}
   */
  public record Project(
      String project,
      int running,
      int queued,
      int firstPlace,
      long hourStartMillis,
      long gpuMillis,
      List<Long> countedUpTo) {

    public Project {
      countedUpTo = countedUpTo == null ? List.of() : List.copyOf(countedUpTo);
    }
  }
}
