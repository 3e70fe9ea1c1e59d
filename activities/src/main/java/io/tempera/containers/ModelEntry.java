package io.tempera.containers;

import io.tempera.models.ModelSpec;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** One model's container on one GPU (or none). Guarded by the {@link ModelTable}'s monitor. */
final class ModelEntry {

  enum State {
    STARTING,
    RUNNING,
    FAILED
  }

  final String key;
  final String modelId;
  final Integer gpu;
  ModelSpec spec;
  String specHash;
  int vramMb;
  State state;
  String containerId;
  URI baseUrl;
  final Set<String> holders = new LinkedHashSet<>();
  long lastUsedNanos = System.nanoTime();
  CompletableFuture<RunningModel> ready;
  int healthFailures;
  final List<Long> restartTimes = new ArrayList<>();
  ModelHostException failure;

  ModelEntry(String key, String modelId, Integer gpu) {
    this.key = key;
    this.modelId = modelId;
    this.gpu = gpu;
  }
}
