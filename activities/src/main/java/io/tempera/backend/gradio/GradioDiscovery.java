package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;

import com.fasterxml.jackson.databind.JsonNode;
import io.tempera.backend.gradio.GradioException.Kind;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a Gradio server offers, read from {@code GET /config} and {@code GET {prefix}/info} and kept
 * until forgotten. Covers the versions' differences: the api prefix ("" on 4.x, "/gradio_api" on
 * 5.x and 6.x), a function's index (its id, or its list position on early 4.x), and a config that
 * lists no inputs.
 */
final class GradioDiscovery {

  private final GradioTransport transport;
  private volatile GradioApi api;

  GradioDiscovery(GradioTransport transport) {
    this.transport = transport;
  }

  /** The server's API, discovered once and kept (re-read with {@link #discover()}). */
  GradioApi api() {
    GradioApi known = api;
    return known != null ? known : discover();
  }

  /**
   * Forgets the discovered API, so the next call reads it again (after the server may have
   * restarted).
   */
  void forget() {
    api = null;
  }

  /** GET /config then GET {prefix}/info, logging in first when the app needs it. */
  GradioApi discover() {
    HttpResponse<String> config =
        transport.sendAuthenticated(() -> transport.calls().get("/config"));
    if (config.statusCode() != 200) {
      throw GradioTransport.httpError("/config", config);
    }
    JsonNode c = transport.parse(config, "/config");
    if (!c.isObject() || !c.path("dependencies").isArray()) {
      throw new GradioException(
          Kind.PROTOCOL,
          "/config is not a Gradio config (no dependencies): " + abbreviate(config.body()));
    }
    String prefix = apiPrefix(c);
    String infoPath = prefix + "/info";
    HttpResponse<String> infoResponse =
        transport.sendAuthenticated(() -> transport.calls().get(infoPath));
    if (infoResponse.statusCode() != 200) {
      throw GradioTransport.httpError(infoPath, infoResponse);
    }
    JsonNode info = transport.parse(infoResponse, infoPath);
    if (!info.path("named_endpoints").isObject()) {
      throw new GradioException(
          Kind.PROTOCOL, infoPath + " has no named_endpoints: " + abbreviate(infoResponse.body()));
    }
    GradioApi discovered = read(c, prefix, info);
    api = discovered;
    return discovered;
  }

  /** The config's api_prefix without a trailing slash ("" where it has none: 4.x). */
  static String apiPrefix(JsonNode config) {
    String prefix = config.path("api_prefix").isTextual() ? config.get("api_prefix").asText() : "";
    return prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
  }

  /**
   * The API of a config (its dependencies checked to be a list) and the /info that describes its
   * endpoints.
   */
  static GradioApi read(JsonNode config, String prefix, JsonNode info) {
    Map<Integer, String> componentTypes = new LinkedHashMap<>();
    for (JsonNode component : config.path("components")) {
      componentTypes.put(component.path("id").asInt(-1), component.path("type").asText(""));
    }
    Map<String, GradioApi.Endpoint> endpoints = new LinkedHashMap<>();
    JsonNode dependencies = config.get("dependencies");
    for (int i = 0; i < dependencies.size(); i++) {
      JsonNode dependency = dependencies.get(i);
      JsonNode apiName = dependency.path("api_name");
      if (!apiName.isTextual() || apiName.asText().isBlank()) {
        continue;
      }
      String name = apiName.asText().startsWith("/") ? apiName.asText() : "/" + apiName.asText();
      JsonNode described = info.get("named_endpoints").get(name);
      if (described == null || !described.path("parameters").isArray()) {
        continue; // hidden from the API
      }
      endpoints.put(name, endpoint(name, i, dependency, described, componentTypes));
    }
    return new GradioApi(
        config.path("version").asText("unknown"),
        prefix,
        config.path("protocol").asText(""),
        !config.has("enable_queue") || config.path("enable_queue").asBoolean(true),
        Map.copyOf(endpoints));
  }

  private static GradioApi.Endpoint endpoint(
      String name,
      int position,
      JsonNode dependency,
      JsonNode described,
      Map<Integer, String> componentTypes) {
    List<GradioApi.Parameter> parameters = new ArrayList<>();
    for (JsonNode p : described.get("parameters")) {
      parameters.add(
          new GradioApi.Parameter(
              p.path("parameter_name").isTextual() ? p.get("parameter_name").asText() : null,
              p.path("label").asText(null),
              p.path("parameter_has_default").asBoolean(false),
              p.get("parameter_default"),
              p.path("component").asText(null)));
    }
    List<GradioApi.Parameter> inputs = new ArrayList<>();
    int next = 0;
    for (JsonNode input : dependency.path("inputs")) {
      String type = componentTypes.getOrDefault(input.asInt(-1), "");
      if (type.equals("state") || next >= parameters.size()) {
        inputs.add(null);
      } else {
        inputs.add(parameters.get(next++));
      }
    }
    while (next < parameters.size()) {
      inputs.add(parameters.get(next++)); // a config without inputs: /info's order is the order
    }
    int fnIndex =
        dependency.has("id") && dependency.get("id").canConvertToInt()
            ? dependency.get("id").asInt()
            : position;
    return new GradioApi.Endpoint(
        name,
        fnIndex,
        List.copyOf(parameters),
        Collections.unmodifiableList(inputs),
        !(dependency.path("queue").isBoolean() && !dependency.get("queue").asBoolean()),
        dependency.path("types").path("generator").asBoolean(false));
  }
}
