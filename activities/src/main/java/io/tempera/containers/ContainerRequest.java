package io.tempera.containers;

import io.tempera.models.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The container to create for a model entry: its image, a unique name, labels, environment, the
 * port to publish, the GPU it is given (null: none) and its command (empty: the image's).
 */
record ContainerRequest(
    String image,
    String name,
    Map<String, String> labels,
    List<String> env,
    int port,
    Integer gpu,
    List<String> command) {

  static ContainerRequest of(DockerModelHostOptions options, ModelEntry entry) {
    ModelSpec model = entry.spec;
    Integer gpu = options.gpus() ? entry.gpu : null;
    List<String> env = new ArrayList<>();
    model.env().forEach((k, v) -> env.add(k + "=" + v));
    if (gpu != null) {
      env.add("NVIDIA_VISIBLE_DEVICES=" + gpu);
    }
    String name =
        "tempera-"
            + options.hostId()
            + "-"
            + model.id().replaceAll("[^A-Za-z0-9_.-]", "-")
            + (entry.gpu == null ? "" : "-gpu" + entry.gpu)
            + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    return new ContainerRequest(
        model.image(),
        name,
        ContainerLabels.of(options.hostId(), model, entry.specHash, entry.gpu),
        env,
        model.port(),
        gpu,
        model.command());
  }
}
