package io.tempera.containers;

import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.ExposedPort;
import io.tempera.models.ModelSpec;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * On a host's start, takes over the healthy containers a previous process with the same host id
 * left (known by their {@link ContainerLabels}) and removes the rest.
 */
record ContainerAdopter(DockerEngine engine, HealthCheck health, ModelTable table, String hostId) {

  /** The host's parts log as the host. */
  private static final Logger log = LoggerFactory.getLogger(DockerModelHost.class);

  /**
   * Takes over the healthy containers a previous process with this host id left; removes the rest.
   */
  void adopt() {
    for (Container c : engine.containersOf(hostId)) {
      Map<String, String> labels = c.getLabels();
      String modelId = labels.get(ContainerLabels.MODEL);
      Integer gpu = ContainerLabels.gpu(labels);
      String key = ModelTable.key(modelId, gpu);
      boolean keep = false;
      try {
        InspectContainerResponse inspect = engine.inspect(c.getId());
        if (Boolean.TRUE.equals(inspect.getState().getRunning())
            && modelId != null
            && !known(key)) {
          ExposedPort exposed =
              inspect.getNetworkSettings().getPorts().getBindings().keySet().stream()
                  .findFirst()
                  .orElse(null);
          if (exposed != null) {
            URI url = engine.publishedUrl(c.getId(), exposed.getPort());
            String healthPath = labels.getOrDefault(ContainerLabels.HEALTH, "/");
            ModelEntry e = new ModelEntry(key, modelId, gpu);
            e.specHash = labels.getOrDefault(ContainerLabels.SPEC_HASH, "");
            e.vramMb = Integer.parseInt(labels.getOrDefault(ContainerLabels.VRAM, "0"));
            e.spec =
                new ModelSpec(
                    modelId,
                    "unknown",
                    inspect.getConfig().getImage(),
                    List.of(),
                    Map.of(),
                    exposed.getPort(),
                    healthPath,
                    e.vramMb,
                    60,
                    null);
            e.containerId = c.getId();
            e.baseUrl = url;
            if (health.healthy(url, healthPath)) {
              e.state = ModelEntry.State.RUNNING;
              e.ready =
                  CompletableFuture.completedFuture(
                      new RunningModel(modelId, c.getId(), url.toString(), true, 0));
              synchronized (table) {
                table.put(e);
              }
              keep = true;
              log.info("adopted running model container {} ({}) at {}", c.getId(), modelId, url);
            }
          }
        }
      } catch (RuntimeException e) {
        log.warn("cannot adopt container {}: {}", c.getId(), e.toString());
      }
      if (!keep) {
        log.info("removing leftover model container {} ({}, {})", c.getId(), modelId, c.getState());
        engine.remove(c.getId(), Duration.ZERO);
      }
    }
  }

  private boolean known(String key) {
    synchronized (table) {
      return table.contains(key);
    }
  }
}
