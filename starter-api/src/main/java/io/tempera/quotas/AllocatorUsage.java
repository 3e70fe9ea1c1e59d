package io.tempera.quotas;

import io.tempera.slots.PoolUsage;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.temporal.client.WorkflowClient;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The counts from the source of truth every API instance shares: each pool's slot allocator, asked
 * by its {@code usage} query. It knows every generation holding a lease or waiting for one,
 * whichever API instance started it, and the GPU time each project's leases held this hour.
 */
public final class AllocatorUsage implements UsageSource {

  private static final Logger log = LoggerFactory.getLogger(AllocatorUsage.class);

  /** How long an allocator has to answer: admission does not wait on a pool that is down. */
  static final Duration ANSWER_WITHIN = Duration.ofSeconds(2);

  private static final ExecutorService QUERIES = Executors.newVirtualThreadPerTaskExecutor();

  private final WorkflowClient client;
  private final List<String> pools;
  private final LongSupplier clock;

  public AllocatorUsage(WorkflowClient client, List<String> pools, LongSupplier clock) {
    this.client = client;
    this.pools = List.copyOf(pools);
    this.clock = clock;
  }

  @Override
  public Reading read(List<String> holders) {
    long now = clock.getAsLong();
    long hour = Math.floorDiv(now, Admission.HOUR_MILLIS) * Admission.HOUR_MILLIS;
    Map<String, long[]> byKey = new HashMap<>(); // running, queued, first place, GPU ms
    Set<String> known = new HashSet<>();
    int held = 0;
    int waiting = 0;
    int slots = 0;
    long finished = 0;
    double weighted = 0;
    boolean answered = true;
    for (String pool : pools) {
      PoolUsage usage;
      try {
        usage = ask(pool, holders);
      } catch (RuntimeException e) {
        answered = false;
        log.warn("quotas: the slot allocator of pool {} did not answer: {}", pool, e.toString());
        continue;
      }
      if (usage == null) {
        continue; // no allocator yet: no worker of the pool has started, nothing held or waiting
      }
      held += usage.leasesHeld();
      waiting += usage.waiting();
      slots += usage.slots();
      finished += usage.finishedLeases();
      weighted += usage.meanLeaseMillis() * usage.finishedLeases();
      known.addAll(usage.known());
      for (PoolUsage.Project p : usage.projects()) {
        long[] c = byKey.computeIfAbsent(p.project(), k -> new long[4]);
        c[0] += p.running();
        c[1] += p.queued();
        if (p.firstPlace() > 0) {
          c[2] = c[2] == 0 ? p.firstPlace() : Math.min(c[2], p.firstPlace());
        }
        c[3] += p.hourStartMillis() == hour ? p.gpuMillis() : 0;
        for (long counted : p.countedUpTo()) {
          c[3] += Math.max(0, now - Math.max(counted, hour)); // held since it was last counted
        }
      }
    }
    Map<String, Usage.Counts> counts = new HashMap<>();
    byKey.forEach(
        (key, c) -> counts.put(key, new Usage.Counts((int) c[0], (int) c[1], (int) c[2], c[3])));
    return new Reading(
        new Usage(
            counts,
            held,
            waiting,
            slots,
            finished,
            finished == 0 ? 0 : weighted / finished,
            answered,
            now),
        known);
  }

  /** The pool's usage; null when the pool has no allocator. */
  private PoolUsage ask(String pool, List<String> holders) {
    SlotAllocatorWorkflow allocator =
        client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool));
    Future<PoolUsage> answer = QUERIES.submit(() -> allocator.usage(holders));
    try {
      return answer.get(ANSWER_WITHIN.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      answer.cancel(true);
      throw new IllegalStateException("no answer within " + ANSWER_WITHIN.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      answer.cancel(true);
      throw new IllegalStateException("interrupted");
    } catch (java.util.concurrent.ExecutionException e) {
      if (io.tempera.api.GenerationService.isNotFound(e.getCause())) {
        return null;
      }
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    }
  }
}
