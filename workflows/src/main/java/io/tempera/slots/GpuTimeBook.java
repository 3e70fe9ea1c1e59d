package io.tempera.slots;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The allocator's book of GPU time: each lease's time is counted to its project, split by clock
 * hour, whenever the allocator settles ({@link #settle}); a lease gone since the last settling is
 * counted up to then and its length goes into the moving average. Plain data, no Temporal call: the
 * caller passes the workflow's time, so it is deterministic.
 */
final class GpuTimeBook {

  static final long HOUR = 3_600_000L;

  /** The weight of the newest lease in the moving average of lease lengths. */
  static final double WEIGHT = 0.2;

  /**
   * The weight of each grant in the moving average of the time per grant: grants come in bursts (a
   * loop grants what freed since the last), so about the last 20 count.
   */
  static final double PACE_WEIGHT = 0.05;

  private static final Pattern GENERATION = Pattern.compile("gen-([0-9a-f]{10})-.*");

  /** (project, hour) → GPU milliseconds, current and last hour only. */
  private final Map<String, Map<Long, Long>> hours = new TreeMap<>();

  private final Map<String, GpuTime.LeaseClock> clocks = new LinkedHashMap<>();
  private long finished;
  private double mean;

  /** The moving average of the time between grants while the line waited; 0 until measured. */
  private double perGrant;

  /** When the last grant left waiters behind (the next grant's interval starts), else -1. */
  private long paceFrom = -1;

  GpuTimeBook(GpuTime start) {
    GpuTime from = start == null ? GpuTime.none() : start;
    from.hours()
        .forEach(h ->
            hours
                .computeIfAbsent(h.project(), p -> new TreeMap<>())
                .merge(h.hourStartMillis(), h.gpuMillis(), Long::sum));
    from.clocks().forEach(c -> clocks.put(c.leaseId(), c));
    finished = from.finishedLeases();
    mean = from.meanLeaseMillis();
    perGrant = from.millisPerGrant();
  }

  /**
   * Notes that {@code count} waiters were granted at {@code now} and {@code left} still wait: the
   * time since the last grant that left waiters behind, over {@code count}, goes into the moving
   * average of the time per grant (each grant weighing {@link #PACE_WEIGHT}); an empty line starts
   * over, so idle time never counts.
   */
  void granted(int count, int left, long now) {
    if (count > 0 && paceFrom >= 0) {
      double sample = (double) Math.max(0, now - paceFrom) / count;
      double weight = perGrant == 0 ? 1 : 1 - StrictMath.pow(1 - PACE_WEIGHT, count);
      perGrant += weight * (sample - perGrant);
    }
    if (left == 0) {
      paceFrom = -1;
    } else if (count > 0) {
      paceFrom = now;
    }
  }

  double millisPerGrant() {
    return perGrant;
  }

  /** The project key of a holder ({@code gen-<project>-<request>}); empty for any other holder. */
  static String projectOf(String holder) {
    Matcher m = holder == null ? null : GENERATION.matcher(holder);
    return m != null && m.matches() ? m.group(1) : "";
  }

  /**
   * Counts every lease held up to {@code now} (a new one from now), and the leases that are gone up
   * to {@code now}; forgets hours before the last.
   */
  void settle(List<Lease> held, long now) {
    Map<String, Lease> byId = new LinkedHashMap<>();
    held.forEach(l -> byId.put(l.leaseId(), l));
    for (Iterator<GpuTime.LeaseClock> it = clocks.values().iterator(); it.hasNext(); ) {
      GpuTime.LeaseClock clock = it.next();
      if (!byId.containsKey(clock.leaseId())) {
        add(clock.project(), clock.counted(), now);
        long length = Math.max(0, now - clock.grantedAt());
        mean = finished == 0 ? length : mean + WEIGHT * (length - mean);
        finished++;
        it.remove();
      }
    }
    for (Lease lease : byId.values()) {
      GpuTime.LeaseClock clock = clocks.get(lease.leaseId());
      if (clock == null) {
        clocks.put(
            lease.leaseId(),
            new GpuTime.LeaseClock(lease.leaseId(), projectOf(lease.holder()), now, now));
      } else if (now > clock.counted()) {
        add(clock.project(), clock.counted(), now);
        clocks.put(
            lease.leaseId(),
            new GpuTime.LeaseClock(clock.leaseId(), clock.project(), clock.grantedAt(), now));
      }
    }
    long keepFrom = hourOf(now) - HOUR;
    for (Iterator<Map<Long, Long>> it = hours.values().iterator(); it.hasNext(); ) {
      Map<Long, Long> perHour = it.next();
      perHour.keySet().removeIf(hour -> hour < keepFrom);
      if (perHour.isEmpty()) {
        it.remove();
      }
    }
  }

  /** Adds {@code [from, to)} to the project, split at hour boundaries. */
  private void add(String project, long from, long to) {
    long at = from;
    while (at < to) {
      long hour = hourOf(at);
      long end = Math.min(to, hour + HOUR);
      hours.computeIfAbsent(project, p -> new TreeMap<>()).merge(hour, end - at, Long::sum);
      at = end;
    }
  }

  static long hourOf(long millis) {
    return Math.floorDiv(millis, HOUR) * HOUR;
  }

  /** The GPU time the project's leases held in the hour starting at {@code hour}, as settled. */
  long gpuMillis(String project, long hour) {
    Map<Long, Long> perHour = hours.get(project);
    return perHour == null ? 0 : perHour.getOrDefault(hour, 0L);
  }

  /** Up to when the time of each lease the project holds is counted. */
  List<Long> countedUpTo(String project) {
    List<Long> counted = new ArrayList<>();
    clocks.values().stream()
        .filter(c -> c.project().equals(project))
        .forEach(c -> counted.add(c.counted()));
    return counted;
  }

  /** The projects with GPU time in the hour starting at {@code hour}. */
  List<String> projectsIn(long hour) {
    return hours.entrySet().stream()
        .filter(e -> e.getValue().containsKey(hour))
        .map(Map.Entry::getKey)
        .toList();
  }

  long finishedLeases() {
    return finished;
  }

  double meanLeaseMillis() {
    return mean;
  }

  /** What the book holds, for the allocator's state and its next run. */
  GpuTime snapshot() {
    List<GpuTime.ProjectHour> list = new ArrayList<>();
    hours.forEach((project, perHour) ->
        perHour.forEach(
            (hour, millis) -> list.add(new GpuTime.ProjectHour(project, hour, millis))));
    return new GpuTime(list, List.copyOf(clocks.values()), finished, mean, perGrant);
  }
}
