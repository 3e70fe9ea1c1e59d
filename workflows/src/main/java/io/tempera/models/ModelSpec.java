package io.tempera.models;

import java.util.List;
import java.util.Map;

/**
 * One entry of the model registry ({@code templates/models/}): a model a tier of a function runs
 * on. When {@code image} is set the model runs in its own container, started on the leased host
 * from this entry; otherwise it is served by the worker's configured backend endpoints. {@code
 * files} names the model's files on the backend, by the ComfyUI model folder they live in (e.g.
 * {@code checkpoints}: {@code sd15.safetensors}); a template's {@code model_file} mapping writes
 * the tier's model's file into the graph.
 *
 * @param id the registry id, e.g. {@code invert-cpu}
 * @param backendType the protocol the service speaks: comfyui, gradio
 * @param image the container image (null: no container, use the configured endpoints)
 * @param command the container command (empty: the image's default)
 * @param env environment variables for the container
 * @param port the port the service listens on inside the container
 * @param healthPath an HTTP path that answers 2xx once the service is ready
 * @param vramMb GPU memory the service needs, what a slot for it must offer
 * @param startTimeoutSeconds how long starting and becoming healthy may take
 * @param fallback the registry id to use when this model fails to load (null: none)
 * @param architecture the model family, e.g. sd15, sdxl, esrgan (null: not said); for operators
 * @param files the model's file names by model folder kind, e.g. checkpoints, upscale_models
 */
public record ModelSpec(
    String id,
    String backendType,
    String image,
    List<String> command,
    Map<String, String> env,
    int port,
    String healthPath,
    int vramMb,
    int startTimeoutSeconds,
    String fallback,
    String architecture,
    Map<String, String> files) {

  public ModelSpec {
    command = command == null ? List.of() : List.copyOf(command);
    env = env == null ? Map.of() : Map.copyOf(env);
    files = files == null ? Map.of() : Map.copyOf(files);
  }

  /** A model service without files or architecture (a container or the configured endpoints). */
  public ModelSpec(
      String id,
      String backendType,
      String image,
      List<String> command,
      Map<String, String> env,
      int port,
      String healthPath,
      int vramMb,
      int startTimeoutSeconds,
      String fallback) {
    this(
        id,
        backendType,
        image,
        command,
        env,
        port,
        healthPath,
        vramMb,
        startTimeoutSeconds,
        fallback,
        null,
        Map.of());
  }

  /** True when {@code id} can name a model registry entry. */
  public static boolean validId(String id) {
    return id != null && ModelParser.ID.matcher(id).matches();
  }

  /** The same model, given {@code seconds} to start. */
  public ModelSpec withStartTimeoutSeconds(int seconds) {
    return new ModelSpec(
        id,
        backendType,
        image,
        command,
        env,
        port,
        healthPath,
        vramMb,
        seconds,
        fallback,
        architecture,
        files);
  }

  /** This entry served by the worker's configured endpoints instead of its own container. */
  public ModelSpec withoutContainer() {
    return new ModelSpec(
        id,
        backendType,
        null,
        List.of(),
        Map.of(),
        port,
        healthPath,
        vramMb,
        startTimeoutSeconds,
        fallback,
        architecture,
        files);
  }

  /** True when this model runs in a container the worker host starts. */
  public boolean containerised() {
    return image != null && !image.isBlank();
  }
}
