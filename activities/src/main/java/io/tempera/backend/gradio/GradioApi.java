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
    Map<String, Endpoint> endpoints,
    String fingerprint) {

  public GradioApi(
      String version,
      String apiPrefix,
      String protocol,
      boolean queueEnabled,
      Map<String, Endpoint> endpoints) {
    this(version, apiPrefix, protocol, queueEnabled, endpoints, "");
  }

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
   * @param outputs the dependency's outputs in order, as its replies list them: a label and a
   *     component each, or null for one the API does not show (State)
   */
  public record Endpoint(
      String apiName,
      int fnIndex,
      List<Parameter> parameters,
      List<Parameter> inputs,
      boolean queue,
      boolean generator,
      List<Output> outputs) {

    public Endpoint(
        String apiName,
        int fnIndex,
        List<Parameter> parameters,
        List<Parameter> inputs,
        boolean queue,
        boolean generator) {
      this(apiName, fnIndex, parameters, inputs, queue, generator, List.of());
    }
  }

  /**
   * One output of an endpoint: its label (null when it has none) and its component ("textbox",
   * "image", "gallery", …, lower case).
   */
  public record Output(String label, String component) {

    /** What a value of this component is, when it is not a file: text, number, boolean, … */
    public String valueKind() {
      return switch (component == null ? "" : component) {
        case "textbox", "markdown", "html", "code", "text", "dropdown", "radio", "chatinterface" ->
            "text";
        case "number", "slider" -> "number";
        case "checkbox" -> "boolean";
        case "label" -> "label";
        case "highlightedtext" -> "highlighted_text";
        default -> "json";
      };
    }
  }

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
