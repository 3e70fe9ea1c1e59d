package io.tempera.quotas;

import java.util.List;
import java.util.Set;

/** Where the counts come from: the slot pools' allocators ({@link AllocatorUsage}). */
public interface UsageSource {

  /**
   * What the pools hold now, and which of {@code holders} (generation ids) the allocators know (a
   * lease or a place in line). Never throws: a pool that does not answer leaves {@link
   * Usage#answered()} false.
   */
  Reading read(List<String> holders);

  record Reading(Usage usage, Set<String> known) {}
}
