package io.tempera.quotas;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * Admission of new generations against the project limits and the global queue bound ({@link
 * QuotaProperties}), and each project's usage for operators.
 *
 * <p>The counts are the slot allocators' ({@link UsageSource}), shared by every API instance, read
 * at most {@code counts-fresh} ago. What this instance admitted since that the allocators do not
 * know yet (a generation started but not yet in line for a slot) is counted on top as waiting, so
 * one instance never overshoots a limit; only admissions of other instances within the same short
 * window can (a limit may be passed by a few, never a generation lost). An admission the allocators
 * have not seen within {@link #PENDING_FOR} (its generation ended before it asked for a slot) stops
 * counting.
 */
public final class Quotas {

  /** How long an admission counts while no allocator knows its generation. */
  static final long PENDING_FOR = 120_000;

  private final QuotaProperties properties;
  private final UsageSource source;
  private final LongSupplier clock;

  /** Admitted here, not yet known to an allocator: generation id → when, and its project. */
  private final Map<String, Pending> pending = new LinkedHashMap<>();

  private Usage usage;

  private record Pending(String projectId, String key, long at) {}

  public Quotas(QuotaProperties properties, UsageSource source, LongSupplier clock) {
    this.properties = properties;
    this.source = source;
    this.clock = clock;
  }

  /**
   * No limit and no queue bound, nothing counted: a service built without the quota settings (tests
   * that start generations without the API's configuration).
   */
  public static Quotas unlimited() {
    return new Quotas(
        new QuotaProperties(null, null, 0, null, null),
        holders ->
            new UsageSource.Reading(Usage.none(System.currentTimeMillis()), java.util.Set.of()),
        System::currentTimeMillis);
  }

  public QuotaProperties properties() {
    return properties;
  }

  /**
   * Admits generation {@code generationId} of {@code projectId} (counted from now on), or says why
   * not. An admitted generation that was not started after all is {@link #withdraw withdrawn}.
   */
  public synchronized Admission.Refusal admit(String projectId, String generationId) {
    long now = clock.getAsLong();
    Usage counts = counts(now, false);
    String key = keyOf(projectId);
    Usage.Counts mine = counts.of(key);
    int mineWaiting = 0;
    for (Pending p : pending.values()) {
      if (p.key().equals(key)) {
        mineWaiting++;
      }
    }
    Usage.Counts project =
        new Usage.Counts(
            mine.running(), mine.queued() + mineWaiting, mine.firstPlace(), mine.gpuMillis());
    Admission.Refusal refusal =
        Admission.check(
            projectId,
            properties.limitsOf(projectId),
            properties.maxQueuedTotal(),
            project,
            counts,
            counts.waiting() + pending.size(),
            now);
    if (refusal == null) {
      pending.put(generationId, new Pending(projectId, key, now));
    }
    return refusal;
  }

  /** Forgets an admission whose generation did not start (it already existed, or failed to). */
  public synchronized void withdraw(String generationId) {
    pending.remove(generationId);
  }

  /** Every pool's counts now (read afresh), with this instance's admissions not yet known. */
  public synchronized Report report(Collection<String> projectIds) {
    long now = clock.getAsLong();
    Usage counts = counts(now, true);
    Map<String, String> names = new TreeMap<>();
    projectIds.forEach(p -> names.put(keyOf(p), p));
    properties.projects().keySet().forEach(p -> names.put(keyOf(p), p));
    pending.values().forEach(p -> names.put(p.key(), p.projectId()));
    Map<String, Usage.Counts> byKey = new TreeMap<>(counts.byKey());
    names.keySet().forEach(k -> byKey.putIfAbsent(k, Usage.Counts.NONE));
    List<Report.Project> projects = new ArrayList<>();
    byKey.forEach((key, c) -> {
      if (key.isEmpty()) {
        return; // holders that are no generation
      }
      String projectId = names.get(key);
      int waiting = (int) pending.values().stream().filter(p -> p.key().equals(key)).count();
      projects.add(
          new Report.Project(
              projectId,
              key,
              c.running(),
              c.queued() + waiting,
              c.gpuMillis() / 1000,
              projectId == null ? properties.defaults() : properties.limitsOf(projectId)));
    });
    projects.sort(
        java.util.Comparator.comparing(
                (Report.Project p) -> p.projectId() == null ? "\uffff" : p.projectId())
            .thenComparing(Report.Project::key));
    long hour = Math.floorDiv(now, Admission.HOUR_MILLIS) * Admission.HOUR_MILLIS;
    return new Report(
        java.time.Instant.ofEpochMilli(hour).toString(),
        properties.pools(),
        counts.answered(),
        counts.leasesHeld(),
        counts.waiting() + pending.size(),
        counts.slots(),
        properties.maxQueuedTotal(),
        counts.finishedLeases() == 0 ? null : Math.round(counts.meanLeaseMillis() / 100.0) / 10.0,
        projects);
  }

  /**
   * What operators see.
   *
   * @param hourStart the clock hour the GPU time counts (UTC)
   * @param answered whether every pool's allocator answered
   * @param meanLeaseSeconds how long a lease is held, on average (null: none measured yet)
   */
  public record Report(
      String hourStart,
      List<String> pools,
      boolean answered,
      int running,
      int queued,
      int slots,
      int maxQueuedTotal,
      Double meanLeaseSeconds,
      List<Project> projects) {

    /**
     * One project.
     *
     * @param projectId null for a project no key or setting names (its key only is known)
     * @param key the hash its generations' ids carry ({@code gen-<key>-…})
     */
    public record Project(
        String projectId,
        String key,
        int running,
        int queued,
        long gpuSecondsThisHour,
        QuotaProperties.Limits limits) {}
  }

  /** The counts, read afresh when older than {@code counts-fresh} (or when {@code fresh}). */
  private Usage counts(long now, boolean fresh) {
    if (!fresh
        && usage != null
        && now - usage.readAtMillis() < properties.countsFresh().toMillis()) {
      return usage;
    }
    UsageSource.Reading reading = source.read(List.copyOf(pending.keySet()));
    reading.known().forEach(pending::remove);
    pending.values().removeIf(p -> now - p.at() > PENDING_FOR);
    usage = reading.usage();
    return usage;
  }

  /** The key a project's generations carry in their ids: {@code gen-<key>-<requestId>}. */
  public static String keyOf(String projectId) {
    String id = io.tempera.generation.GenerationWorkflow.workflowIdFor(projectId, "x");
    return id.substring("gen-".length(), id.length() - "-x".length());
  }
}
