package io.tempera.template;

import io.tempera.models.ModelSpec;
import java.util.Optional;

/**
 * Where the template registry learns what the ComfyUI servers can run, to check the graphs against
 * it ({@link GraphValidator}). Implemented where HTTP is allowed (the apps fetch {@code
 * /object_info}); answers from memory, since the registry asks on every recheck.
 */
@FunctionalInterface
public interface NodeCatalogueSource {

  /** No catalogue: templates are not checked against a server. */
  NodeCatalogueSource NONE = model -> Optional.empty();

  /**
   * The catalogue of the servers a tier running on {@code model} uses (null: a tier without a
   * model, run on the configured endpoints). Empty when it is not known: no server configured, none
   * has answered yet, or the model runs in a container started only when a generation needs it.
   */
  Optional<NodeCatalogue> catalogueFor(ModelSpec model);

  /** A hint that templates changed: fetch again soon, so new model files are seen. */
  default void refreshSoon() {}
}
