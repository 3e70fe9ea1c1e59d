package io.tempera.containers;

import io.tempera.models.ModelSpec;
import java.util.Optional;

/** Finds a model registry entry by id (for a model fallback). */
@FunctionalInterface
public interface ModelLookup {

  Optional<ModelSpec> find(String modelId);

  /** No registry: every lookup is empty. */
  static ModelLookup none() {
    return id -> Optional.empty();
  }
}
