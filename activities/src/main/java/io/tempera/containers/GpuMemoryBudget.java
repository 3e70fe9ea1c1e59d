package io.tempera.containers;

import io.tempera.generation.ErrorCode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The GPU memory a host's models may use, per GPU: decides which idle containers a start must
 * evict, least recently used first. Containers with holders are never evicted.
 */
final class GpuMemoryBudget {

  private final Map<Integer, Integer> vramMb;

  /**
   * @param vramMb the budget per GPU index; a GPU not listed has none
   */
  GpuMemoryBudget(Map<Integer, Integer> vramMb) {
    this.vramMb = vramMb;
  }

  /**
   * The idle entries among {@code entries} to evict so {@code entry} fits its GPU's budget (none
   * when it needs no memory). Fails with MODEL_UNAVAILABLE when the GPU has no budget or the model
   * never fits it, with BACKEND_BUSY when the models on it are in use. Removes nothing.
   */
  List<ModelEntry> toEvict(ModelEntry entry, Collection<ModelEntry> entries) {
    if (entry.vramMb <= 0) {
      return List.of();
    }
    Integer budget = entry.gpu == null ? null : vramMb.get(entry.gpu);
    if (budget == null) {
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "This host has no GPU memory budget for GPU "
              + entry.gpu
              + " (model '"
              + entry.modelId
              + "' needs "
              + entry.vramMb
              + " MB)",
          "",
          null);
    }
    if (entry.vramMb > budget) {
      throw new ModelHostException(
          ErrorCode.MODEL_UNAVAILABLE,
          "Model '"
              + entry.modelId
              + "' needs "
              + entry.vramMb
              + " MB, more than GPU "
              + entry.gpu
              + " has ("
              + budget
              + " MB)",
          "",
          null);
    }
    List<ModelEntry> onGpu =
        entries.stream().filter(e -> Objects.equals(e.gpu, entry.gpu)).toList();
    int used = onGpu.stream().mapToInt(e -> e.vramMb).sum();
    List<ModelEntry> idle =
        onGpu.stream()
            .filter(e -> e.holders.isEmpty() && e.state == ModelEntry.State.RUNNING)
            .sorted(Comparator.comparingLong(e -> e.lastUsedNanos))
            .toList();
    List<ModelEntry> evict = new ArrayList<>();
    for (ModelEntry e : idle) {
      if (used + entry.vramMb <= budget) {
        break;
      }
      evict.add(e);
      used -= e.vramMb;
    }
    if (used + entry.vramMb > budget) {
      throw new ModelHostException(
          ErrorCode.BACKEND_BUSY,
          "GPU "
              + entry.gpu
              + " has no room for model '"
              + entry.modelId
              + "' ("
              + entry.vramMb
              + " MB): the models on it are all in use",
          "",
          null);
    }
    return evict;
  }
}
