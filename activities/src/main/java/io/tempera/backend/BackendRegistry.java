package io.tempera.backend;

import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The backends this worker can run, by template backend type. */
public final class BackendRegistry {

  private final Map<String, Backend> byType = new LinkedHashMap<>();

  public BackendRegistry(List<Backend> backends) {
    backends.forEach(b -> byType.put(b.type(), b));
  }

  public Backend get(String type) {
    Backend backend = byType.get(type);
    if (backend == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "This worker has no '" + type + "' backend configured (it has: " + byType.keySet() + ")",
          ErrorCode.BACKEND_UNREACHABLE.name());
    }
    return backend;
  }
}
