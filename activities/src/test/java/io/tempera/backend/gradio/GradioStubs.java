package io.tempera.backend.gradio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import java.util.Arrays;
import java.util.stream.Collectors;

/** The documented Gradio reply shapes (PROTOCOLS.md section B), served by WireMock. */
final class GradioStubs {

  static final String EVENT = "4f0c3a9d8b2e4c1aa5d6e7f8091a2b3c";

  private GradioStubs() {}

  /**
   * A 5.x/6.x config (api_prefix /gradio_api) or a 4.x one (none, no dependency ids), with one
   * endpoint.
   */
  static String config(String version, boolean prefixed, String protocol) {
    String dependency =
        prefixed
            ? "{\"id\":7,\"api_name\":\"generate\",\"inputs\":[1,2],\"outputs\":[3],\"queue\":true,\"types\":{\"generator\":false,\"cancel\":false}}"
            : "{\"api_name\":null,\"inputs\":[],\"outputs\":[]},{\"api_name\":\"generate\",\"inputs\":[1,2],\"outputs\":[3],\"queue\":null}";
    return "{\"version\":\""
        + version
        + "\","
        + (prefixed ? "\"api_prefix\":\"/gradio_api\"," : "")
        + "\"protocol\":\""
        + protocol
        + "\",\"enable_queue\":true,\"root\":\"\","
        + "\"components\":[{\"id\":1,\"type\":\"textbox\",\"props\":{}},{\"id\":2,\"type\":\"state\",\"props\":{}},{\"id\":3,\"type\":\"image\",\"props\":{}}],"
        + "\"dependencies\":["
        + dependency
        + "]}";
  }

  static final String INFO =
      """
      {"named_endpoints":{"/generate":{"parameters":[{"label":"Prompt","parameter_name":"prompt","parameter_has_default":false,
        "parameter_default":null,"type":{"type":"string"},"python_type":{"type":"str","description":""},"component":"Textbox"}],
       "returns":[{"label":"Output","type":{},"python_type":{"type":"filepath","description":""},"component":"Image"}]}},"unnamed_endpoints":{}}\
      """;

  static void server(WireMockServer wiremock, String version, boolean prefixed, String protocol) {
    String p = prefixed ? "/gradio_api" : "";
    wiremock.stubFor(get("/config").willReturn(okJson(config(version, prefixed, protocol))));
    wiremock.stubFor(get(p + "/info").willReturn(okJson(INFO)));
    wiremock.stubFor(
        post(p + "/queue/join").willReturn(okJson("{\"event_id\":\"" + EVENT + "\"}")));
    wiremock.stubFor(post(p + "/cancel").willReturn(okJson("{\"success\":true}")));
  }

  /** An event stream of the given {@code data:} events (queue protocol). */
  static ResponseDefinitionBuilder sse(String... events) {
    return aResponse()
        .withStatus(200)
        .withHeader("Content-Type", "text/event-stream")
        .withBody(
            Arrays.stream(events).map(e -> "data: " + e + "\n\n").collect(Collectors.joining()));
  }

  /** A /call event stream of {@code event:} / {@code data:} pairs. */
  static ResponseDefinitionBuilder callStream(String... eventThenData) {
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < eventThenData.length; i += 2) {
      body.append("event: ")
          .append(eventThenData[i])
          .append("\ndata: ")
          .append(eventThenData[i + 1])
          .append("\n\n");
    }
    return aResponse()
        .withStatus(200)
        .withHeader("Content-Type", "text/event-stream")
        .withBody(body.toString());
  }

  static String completed(String dataJson) {
    return "{\"msg\":\"process_completed\",\"event_id\":\""
        + EVENT
        + "\",\"output\":{\"data\":"
        + dataJson
        + ",\"is_generating\":false,\"duration\":0.1,\"average_duration\":0.1},\"success\":true,\"title\":null}";
  }

  static String fileData(String base, String prefix, String path) {
    return "{\"path\":\""
        + path
        + "\",\"url\":"
        + (base == null ? "null" : "\"" + base + prefix + "/file=" + path + "\"")
        + ",\"size\":null,\"orig_name\":\"out.png\",\"mime_type\":null,\"is_stream\":false,\"meta\":{\"_type\":\"gradio.FileData\"}}";
  }

  static String event(String msg, String fields) {
    return "{\"msg\":\""
        + msg
        + "\",\"event_id\":\""
        + EVENT
        + "\""
        + (fields.isEmpty() ? "" : "," + fields)
        + "}";
  }

  static com.github.tomakehurst.wiremock.matching.UrlPathPattern path(String p) {
    return urlPathEqualTo(p);
  }
}
