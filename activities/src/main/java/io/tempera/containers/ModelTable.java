package io.tempera.containers;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The holder bookkeeping of a {@link DockerModelHost}: its model entries by key ({@code
 * model@gpu}), which container each holder was given, and the crashes a holder has not been told
 * about yet. Its monitor guards all of it and every {@link ModelEntry}: the methods not marked
 * {@code synchronized} are called holding it.
 */
final class ModelTable {

  private final Map<String, ModelEntry> entries = new LinkedHashMap<>();

  /** holder → entry key → the container id the holder was given. */
  private final Map<String, Map<String, String>> given = new HashMap<>();

  /**
   * container id → its crash, kept until the entry's next container is healthy and a while after.
   */
  private final Map<String, ModelHostException> crashes = new LinkedHashMap<>();

  private volatile boolean closed;

  static String key(String modelId, Integer gpu) {
    return modelId + "@" + (gpu == null ? "none" : gpu);
  }

  static Integer gpuOf(String key) {
    String gpu = key.substring(key.lastIndexOf('@') + 1);
    return gpu.equals("none") ? null : Integer.valueOf(gpu);
  }

  private static boolean ofModel(String key, String modelId) {
    return key.startsWith(modelId + "@");
  }

  // --- entries (under the monitor) ---

  ModelEntry get(String key) {
    return entries.get(key);
  }

  boolean contains(String key) {
    return entries.containsKey(key);
  }

  void put(ModelEntry entry) {
    entries.put(entry.key, entry);
  }

  void remove(String key) {
    entries.remove(key);
  }

  Collection<ModelEntry> entries() {
    return entries.values();
  }

  List<ModelEntry> running() {
    return entries.values().stream().filter(e -> e.state == ModelEntry.State.RUNNING).toList();
  }

  /** Any entry of the model, on whichever GPU. */
  ModelEntry anyOf(String modelId) {
    return entries.values().stream()
        .filter(e -> e.modelId.equals(modelId))
        .findFirst()
        .orElse(null);
  }

  // --- holders (under the monitor) ---

  /** Records that {@code holder} was given the entry's container. */
  void give(String holder, String key, String containerId) {
    given.computeIfAbsent(holder, h -> new HashMap<>()).put(key, containerId);
  }

  /** The entry keys of the model {@code holder} was given, in no particular order. */
  List<String> givenKeys(String holder, String modelId) {
    return given.getOrDefault(holder, Map.of()).keySet().stream()
        .filter(k -> ofModel(k, modelId))
        .toList();
  }

  /** The containers of the model {@code holder} was given. */
  List<String> givenContainers(String holder, String modelId) {
    return given.getOrDefault(holder, Map.of()).entrySet().stream()
        .filter(e -> ofModel(e.getKey(), modelId))
        .map(Map.Entry::getValue)
        .toList();
  }

  /** The holder no longer holds the model; wakes {@link #closeAndAwaitHolders}. */
  synchronized void release(String holder, String modelId) {
    Map<String, String> mine = given.getOrDefault(holder, Map.of());
    for (ModelEntry e : entries.values()) {
      if (e.modelId.equals(modelId) && e.holders.remove(holder)) {
        e.lastUsedNanos = System.nanoTime();
      }
    }
    // a model given up on (crash loop) frees its GPU memory once nobody holds it
    entries.values().removeIf(e -> e.state == ModelEntry.State.FAILED && e.holders.isEmpty());
    mine.keySet().removeIf(k -> ofModel(k, modelId));
    if (mine.isEmpty()) {
      given.remove(holder);
    }
    notifyAll();
  }

  // --- crashes (under the monitor) ---

  ModelHostException crashOf(String containerId) {
    return crashes.get(containerId);
  }

  void recordCrash(String containerId, ModelHostException error) {
    crashes.put(containerId, error);
  }

  /** Crashes are kept for verify() a while after the model runs again: the 100 newest. */
  synchronized void trimCrashes() {
    if (crashes.size() > 100) {
      crashes.keySet().iterator().remove();
    }
  }

  // --- closing ---

  boolean closed() {
    return closed;
  }

  /** No new holders from now on (a killed worker process, in tests). */
  void markClosed() {
    closed = true;
  }

  /**
   * Closes, then waits until no entry has holders or the deadline ({@link System#nanoTime()})
   * passed.
   */
  synchronized void closeAndAwaitHolders(long deadlineNanos) {
    closed = true;
    while (entries.values().stream().anyMatch(e -> !e.holders.isEmpty())) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
      if (left <= 0) {
        break;
      }
      try {
        wait(Math.min(left, 200));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
  }

  synchronized void clear() {
    entries.clear();
    given.clear();
  }

  // --- what the host runs ---

  synchronized Map<String, String> containers() {
    Map<String, String> out = new TreeMap<>();
    running().forEach(e -> out.put(e.modelId, e.containerId));
    return out;
  }

  synchronized Set<String> holders(String modelId) {
    Set<String> out = new LinkedHashSet<>();
    entries.values().stream()
        .filter(e -> e.modelId.equals(modelId))
        .forEach(e -> out.addAll(e.holders));
    return out;
  }

  synchronized int vramInUse(Integer gpuIndex) {
    return entries.values().stream()
        .filter(e -> Objects.equals(e.gpu, gpuIndex))
        .mapToInt(e -> e.vramMb)
        .sum();
  }

  synchronized int runningCount() {
    return (int) entries.values().stream().filter(e -> e.state == ModelEntry.State.RUNNING).count();
  }
}
