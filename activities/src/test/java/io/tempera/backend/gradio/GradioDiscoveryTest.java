package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Reading an API from /config and /info as the versions write them, without a server. */
class GradioDiscoveryTest {

  final ObjectMapper json = new ObjectMapper();

  @Test
  void anEarly4xConfigWithoutIdsPrefixOrInputs() throws Exception {
    var config =
        json.readTree(
            "{\"version\":\"4.0.0\",\"protocol\":\"sse_v3\",\"components\":[],"
                + "\"dependencies\":[{\"api_name\":null},{\"api_name\":\"gen\",\"queue\":false}]}");
    var info =
        json.readTree(
            "{\"named_endpoints\":{\"/gen\":{\"parameters\":["
                + "{\"parameter_name\":\"prompt\",\"label\":\"Prompt\",\"parameter_has_default\":false,\"component\":\"Textbox\"}]}}}");
    assertThat(GradioDiscovery.apiPrefix(config)).isEmpty();
    GradioApi api = GradioDiscovery.read(config, "", info);
    assertThat(api.version()).isEqualTo("4.0.0");
    assertThat(api.queueProtocol()).isTrue();
    GradioApi.Endpoint gen = api.endpoints().get("/gen");
    assertThat(gen.fnIndex()).as("its list position").isEqualTo(1);
    assertThat(gen.queue()).isFalse();
    assertThat(gen.inputs()).extracting(GradioApi.Parameter::name).containsExactly("prompt");
  }

  @Test
  void a5xConfigWithIdsStateInputsAndAHiddenEndpoint() throws Exception {
    var config =
        json.readTree(
            "{\"version\":\"5.50.0\",\"api_prefix\":\"/gradio_api/\",\"protocol\":\"sse_v3\","
                + "\"components\":[{\"id\":1,\"type\":\"textbox\"},{\"id\":2,\"type\":\"state\"},{\"id\":3,\"type\":\"image\"}],"
                + "\"dependencies\":[{\"id\":7,\"api_name\":\"/generate\",\"inputs\":[1,2,3],\"types\":{\"generator\":true}},"
                + "{\"id\":8,\"api_name\":\"hidden\",\"inputs\":[1]}]}");
    var info =
        json.readTree(
            "{\"named_endpoints\":{\"/generate\":{\"parameters\":["
                + "{\"parameter_name\":\"prompt\",\"parameter_has_default\":false,\"component\":\"Textbox\"},"
                + "{\"parameter_name\":\"image\",\"parameter_has_default\":true,\"parameter_default\":null,\"component\":\"Image\"}]}}}");
    String prefix = GradioDiscovery.apiPrefix(config);
    assertThat(prefix).isEqualTo("/gradio_api");
    GradioApi api = GradioDiscovery.read(config, prefix, info);
    assertThat(api.endpoints()).containsOnlyKeys("/generate");
    GradioApi.Endpoint generate = api.endpoints().get("/generate");
    assertThat(generate.fnIndex()).isEqualTo(7);
    assertThat(generate.generator()).isTrue();
    assertThat(generate.inputs()).hasSize(3);
    assertThat(generate.inputs().get(1)).as("the State input is hidden").isNull();
    assertThat(generate.inputs().get(2).takesFile()).isTrue();
  }
}
