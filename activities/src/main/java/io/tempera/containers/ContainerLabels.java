package io.tempera.containers;

import io.tempera.models.ModelSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a model container carries so that its host knows it again (after a worker restart too): the
 * host id, the model, a hash of its registry entry, its GPU, GPU memory and health path.
 */
final class ContainerLabels {

  static final String HOST = "io.tempera.host";
  static final String MODEL = "io.tempera.model";
  static final String SPEC_HASH = "io.tempera.spec-hash";
  static final String GPU = "io.tempera.gpu";
  static final String VRAM = "io.tempera.vram-mb";
  static final String HEALTH = "io.tempera.health-path";

  private ContainerLabels() {}

  /**
   * The labels of the container of {@code model} on {@code gpu} (null: none) for host {@code
   * hostId}.
   */
  static Map<String, String> of(String hostId, ModelSpec model, String specHash, Integer gpu) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(HOST, hostId);
    labels.put(MODEL, model.id());
    labels.put(SPEC_HASH, specHash);
    labels.put(GPU, gpu == null ? "none" : String.valueOf(gpu));
    labels.put(VRAM, String.valueOf(model.vramMb()));
    labels.put(HEALTH, model.healthPath() == null ? "/" : model.healthPath());
    return labels;
  }

  /** The GPU a labelled container was started for (null: none). */
  static Integer gpu(Map<String, String> labels) {
    String gpu = labels.getOrDefault(GPU, "none");
    return gpu.equals("none") ? null : Integer.valueOf(gpu);
  }

  /**
   * What identifies a container as this registry entry's: changes to any of it replace idle
   * containers.
   */
  static String specHash(ModelSpec model) {
    String spec =
        String.join(
            "\n",
            String.valueOf(model.image()),
            String.join("\u0000", model.command()),
            new TreeMap<>(model.env()).toString(),
            String.valueOf(model.port()),
            String.valueOf(model.healthPath()),
            String.valueOf(model.vramMb()));
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(spec.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
