package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;

import com.fasterxml.jackson.databind.JsonNode;
import io.tempera.backend.gradio.GradioException.Kind;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a Gradio server offers, read from {@code GET /config} and {@code GET {prefix}/info} and kept
 * until forgotten. Covers the versions' differences: the api prefix ("" on 4.x, "/gradio_api" on
 * 5.x and 6.x), a function's index (its id, or its list position on early 4.x), and a config that
 * lists no inputs.
 */
final class GradioDiscovery {

  private static final Logger log = LoggerFactory.getLogger(GradioDiscovery.class);

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
    JsonNode c = config();
    return discover(c, fingerprint(c));
  }

  /**
   * The server's API as it is now: GET /config, and when its functions differ from the known API's
   * (the app was redeployed, or restarted with other endpoints) GET {prefix}/info again. One small
   * request when nothing changed; it also tells whether the server answers at all.
   */
  GradioApi current() {
    JsonNode c = config();
    String fingerprint = fingerprint(c);
    GradioApi known = api;
    if (known != null && known.fingerprint().equals(fingerprint)) {
      return known;
    }
    GradioApi read = discover(c, fingerprint);
    if (known != null) {
      log.info(
          "the Gradio app at {} changed (version {} → {}, another API): its endpoints were read"
              + " again",
          transport.baseUrl(),
          known.version(),
          read.version());
    }
    return read;
  }

  private JsonNode config() {
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
    return c;
  }

  /**
   * What identifies an app's API in its config: the version, the prefix, the components' ids and
   * types and the dependencies (never the components' values, which an app may compute per
   * request).
   */
  static String fingerprint(JsonNode config) {
    StringBuilder text = new StringBuilder();
    text.append(config.path("version").asText("")).append('|');
    text.append(apiPrefix(config)).append('|');
    for (JsonNode component : config.path("components")) {
      text.append(component.path("id").asText())
          .append(':')
          .append(component.path("type").asText())
          .append(',');
    }
    text.append('|').append(config.path("dependencies").toString());
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(digest, 0, 12);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private GradioApi discover(JsonNode c, String fingerprint) {
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
    GradioApi read = read(c, prefix, info);
    GradioApi discovered =
        new GradioApi(
            read.version(),
            read.apiPrefix(),
            read.protocol(),
            read.queueEnabled(),
            read.endpoints(),
            fingerprint);
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
    Map<Integer, String> componentLabels = new LinkedHashMap<>();
    for (JsonNode component : config.path("components")) {
      int id = component.path("id").asInt(-1);
      componentTypes.put(id, component.path("type").asText("").toLowerCase(Locale.ROOT));
      JsonNode label = component.path("props").path("label");
      if (label.isTextual() && !label.asText().isBlank()) {
        componentLabels.put(id, label.asText());
      }
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
      endpoints.put(
          name, endpoint(name, i, dependency, described, componentTypes, componentLabels));
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
      Map<Integer, String> componentTypes,
      Map<Integer, String> componentLabels) {
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
        dependency.path("types").path("generator").asBoolean(false),
        outputs(dependency, described, componentTypes, componentLabels));
  }

  /**
   * The dependency's outputs in reply order: their label (from /info's returns, else the
   * component's) and component; null for State, which the API does not show.
   */
  private static List<GradioApi.Output> outputs(
      JsonNode dependency,
      JsonNode described,
      Map<Integer, String> componentTypes,
      Map<Integer, String> componentLabels) {
    List<JsonNode> returns = new ArrayList<>();
    described.path("returns").forEach(returns::add);
    List<GradioApi.Output> outputs = new ArrayList<>();
    int next = 0;
    for (JsonNode output : dependency.path("outputs")) {
      int id = output.asInt(-1);
      String type = componentTypes.getOrDefault(id, "");
      if (type.equals("state")) {
        outputs.add(null);
        continue;
      }
      JsonNode described1 = next < returns.size() ? returns.get(next++) : null;
      String label =
          described1 != null && described1.path("label").isTextual()
              ? described1.get("label").asText()
              : componentLabels.get(id);
      String component =
          !type.isEmpty()
              ? type
              : described1 == null
                  ? ""
                  : described1.path("component").asText("").toLowerCase(Locale.ROOT);
      outputs.add(new GradioApi.Output(label, component));
    }
    return Collections.unmodifiableList(outputs);
  }
}
