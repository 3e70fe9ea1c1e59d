package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/**
 * What a Gradio server offers, read from {@code GET /config} and {@code GET {prefix}/info}.
 *
 * @param apiPrefix "" on Gradio 4.x, "/gradio_api" on 5.x and 6.x
 * @param protocol "sse_v3" on every version this client uses the queue with
 * @param endpoints named endpoints by api_name with its leading slash ("/generate")
 */
public record GradioApi(
    String version,
    String apiPrefix,
    String protocol,
    boolean queueEnabled,
    Map<String, Endpoint> endpoints) {

  /**
   * Whether predictions go through {@code {prefix}/queue/join}; otherwise through {@code
   * {prefix}/call}.
   */
  public boolean queueProtocol() {
    return queueEnabled && "sse_v3".equals(protocol);
  }

  /**
   * One named endpoint.
   *
   * @param fnIndex the dependency's id (its list position on early 4.x)
   * @param inputs the dependency's inputs in order: a parameter from /info, or null for an input
   *     the API does not show (State), which is sent as null
   * @param queue false when the app turned the queue off for this function
   */
  public record Endpoint(
      String apiName,
      int fnIndex,
      List<Parameter> parameters,
      List<Parameter> inputs,
      boolean queue,
      boolean generator) {}

  /** A parameter as /info describes it. */
  public record Parameter(
      String name, String label, boolean hasDefault, JsonNode defaultValue, String component) {
    /** Whether the component takes a file (FileData) rather than a plain value. */
    public boolean takesFile() {
      return component != null
          && List.of(
                  "image",
                  "file",
                  "audio",
                  "video",
                  "model3d",
                  "uploadbutton",
                  "imageeditor",
                  "simpleimage")
              .contains(component.toLowerCase(java.util.Locale.ROOT));
    }
  }
}
