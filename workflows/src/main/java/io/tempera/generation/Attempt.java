package io.tempera.generation;

import io.tempera.slots.Lease;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a generation runs now and what it has tried: its lease (and the pool it came from), the
 * model container started for it, the backend run it follows, and the recoveries already spent (a
 * stalled run runs again once; each fallback model is tried once; it moves off a lost host at most
 * {@link #MAX_HOST_MOVES} times). Immutable.
 */
public record Attempt(
    Lease lease,
    String pool,
    ModelStart model,
    ModelEndpoint endpoint,
    BackendJob job,
    boolean ranAgainAfterStall,
    List<String> triedModels,
    List<String> lostHosts) {

  /** How many lost hosts a generation moves away from before it gives up. */
  public static final int MAX_HOST_MOVES = 3;

  public Attempt {
    triedModels = triedModels == null ? List.of() : List.copyOf(triedModels);
    lostHosts = lostHosts == null ? List.of() : List.copyOf(lostHosts);
  }

  public static Attempt none() {
    return new Attempt(null, null, null, null, null, false, List.of(), List.of());
  }

  public Attempt leased(String fromPool, Lease granted) {
    return new Attempt(
        granted, fromPool, model, endpoint, job, ranAgainAfterStall, triedModels, lostHosts);
  }

  public Attempt withoutLease() {
    return new Attempt(
        null, pool, model, endpoint, job, ranAgainAfterStall, triedModels, lostHosts);
  }

  /** The model's container asked for (not yet answering). */
  public Attempt starting(ModelStart start) {
    List<String> tried = new ArrayList<>(triedModels);
    if (!tried.contains(start.model().id())) {
      tried.add(start.model().id());
    }
    return new Attempt(lease, pool, start, null, job, ranAgainAfterStall, tried, lostHosts);
  }

  public Attempt started(ModelEndpoint answering) {
    return new Attempt(
        lease, pool, model, answering, job, ranAgainAfterStall, triedModels, lostHosts);
  }

  public Attempt withoutModel() {
    return new Attempt(lease, pool, null, null, job, ranAgainAfterStall, triedModels, lostHosts);
  }

  public Attempt running(BackendJob run) {
    return new Attempt(
        lease, pool, model, endpoint, run, ranAgainAfterStall, triedModels, lostHosts);
  }

  public Attempt ranAgain() {
    return new Attempt(lease, pool, model, endpoint, job, true, triedModels, lostHosts);
  }

  /**
   * Off a lost host: no lease, model or run there any more (the allocator took the lease back; the
   * host is not asked to clean up), the host remembered.
   */
  public Attempt movedOffHost(String hostId) {
    List<String> lostSoFar = new ArrayList<>(lostHosts);
    lostSoFar.add(hostId);
    return new Attempt(null, pool, null, null, null, ranAgainAfterStall, triedModels, lostSoFar);
  }

  /** Where the model's own service answers (null: the worker's configured backend endpoints). */
  public String baseUrl() {
    return endpoint == null ? null : endpoint.baseUrl();
  }

  public boolean hasModel(String modelId) {
    return model != null && model.model().id().equals(modelId);
  }
}
