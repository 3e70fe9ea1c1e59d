package io.tempera.backend.comfyui;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Faults a real ComfyUI will not produce on demand, served by WireMock. */
class ComfyUiClientFaultsTest {

  static final String PROMPT_ID = "0b8f5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
  WireMockServer wiremock;
  ComfyUiClient client;
  final ObjectNode graph = new ObjectMapper().createObjectNode();

  @BeforeEach
  void setUp() {
    wiremock = new WireMockServer(wireMockConfig().dynamicPort());
    wiremock.start();
    client =
        new ComfyUiClient(
            URI.create(wiremock.baseUrl()),
            new ComfyUiClientOptions(
                Duration.ofSeconds(2),
                Duration.ofMillis(800),
                Duration.ofMillis(200),
                Duration.ofSeconds(10)));
    graph.putObject("1").put("class_type", "EmptyImage").putObject("inputs");
  }

  @AfterEach
  void tearDown() {
    client.close();
    wiremock.stop();
  }

  @Test
  void a500OnSubmitIsARetryableServerError() {
    wiremock.stubFor(
        post("/prompt")
            .willReturn(aResponse().withStatus(500).withBody("500 Internal Server Error")));
    assertThatThrownBy(() -> client.submit(graph, PROMPT_ID, "c1"))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.SERVER_ERROR);
              assertThat(e.retryable()).isTrue();
              assertThat(e.httpStatus()).isEqualTo(500);
            });
  }

  @Test
  void nodeErrorsBecomeANonRetryableValidationFailureNamingTheNode() {
    wiremock.stubFor(
        post("/prompt")
            .willReturn(
                aResponse()
                    .withStatus(400)
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        """
                        {"error":{"type":"prompt_outputs_failed_validation","message":"Prompt outputs failed validation","details":"","extra_info":{}},
                         "node_errors":{"3":{"errors":[{"type":"value_bigger_than_max","message":"Value 9.0 bigger than max of 8.0","details":"scale_by",
                           "extra_info":{"input_name":"scale_by","input_config":["FLOAT",{"max":8.0}],"received_value":9.0}}],
                           "dependent_outputs":["2"],"class_type":"ImageScaleBy"}}}\
                        """)));
    assertThatThrownBy(() -> client.submit(graph, PROMPT_ID, "c1"))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.VALIDATION);
              assertThat(e.retryable()).isFalse();
              assertThat(e.nodeErrors())
                  .singleElement()
                  .satisfies(n -> {
                    assertThat(n.nodeId()).isEqualTo("3");
                    assertThat(n.classType()).isEqualTo("ImageScaleBy");
                    assertThat(n.inputName()).isEqualTo("scale_by");
                  });
              assertThat(e.userMessage())
                  .isEqualTo(
                      "Node 3 (ImageScaleBy): the value of 'scale_by' is out of the range the"
                          + " generator accepts");
              assertThat(e.operatorText()).contains("Value 9.0 bigger than max of 8.0");
            });
  }

  @Test
  void malformedJsonIsAProtocolError() {
    wiremock.stubFor(
        get(urlPathEqualTo("/history/" + PROMPT_ID))
            .willReturn(aResponse().withStatus(200).withBody("{\"" + PROMPT_ID + "\": {")));
    assertThatThrownBy(() -> client.history(PROMPT_ID))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.PROTOCOL));
  }

  @Test
  void aSlowAnswerIsATimeout() {
    wiremock.stubFor(get("/queue").willReturn(aResponse().withFixedDelay(2_000).withBody("{}")));
    assertThatThrownBy(() -> client.queueStatus(PROMPT_ID))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.TIMEOUT));
  }

  @Test
  void aResetConnectionAndARefusedOneAreUnreachable() throws Exception {
    wiremock.stubFor(
        get("/queue").willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
    assertThatThrownBy(() -> client.queueStatus(PROMPT_ID))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.UNREACHABLE));

    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    try (ComfyUiClient nowhere =
        new ComfyUiClient(
            URI.create("http://127.0.0.1:" + closedPort), ComfyUiClientOptions.defaults())) {
      assertThatThrownBy(() -> nowhere.history(PROMPT_ID))
          .isInstanceOfSatisfying(
              ComfyUiException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.UNREACHABLE);
                assertThat(e.retryable()).isTrue();
              });
    }
  }

  @Test
  void aMissingOutputIsNotFound(@TempDir Path dir) {
    wiremock.stubFor(get(urlPathEqualTo("/view")).willReturn(aResponse().withStatus(404)));
    assertThatThrownBy(() ->
            client.download(
                new OutputFile("9", "images", "gone.png", "", "output"), dir.resolve("gone.png")))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(ComfyUiException.Kind.NOT_FOUND);
              assertThat(e.retryable()).isFalse();
            });
    assertThat(dir.resolve("gone.png")).doesNotExist();
  }

  @Test
  void runReturnsAnAlreadyFinishedPromptWithoutSubmitting() {
    wiremock.stubFor(
        get(urlPathEqualTo("/history/" + PROMPT_ID))
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withBody(
                        """
                        {"%s":{"prompt":[1,"%s",{},{"client_id":"c1"},["2"]],
                         "outputs":{"2":{"images":[{"filename":"t_00001_.png","subfolder":"","type":"output"}]}},
                         "status":{"status_str":"success","completed":true,"messages":[["execution_start",{"prompt_id":"%s"}],["execution_success",{"prompt_id":"%s"}]]}}}\
                        """
                            .formatted(PROMPT_ID, PROMPT_ID, PROMPT_ID, PROMPT_ID))));
    PromptResult result = client.run(graph, PROMPT_ID, "c1", update -> {});
    assertThat(result.status()).isEqualTo(PromptResult.Status.SUCCESS);
    assertThat(result.submitted()).isFalse();
    assertThat(result.outputs())
        .containsExactly(new OutputFile("2", "images", "t_00001_.png", "", "output"));
    wiremock.verify(0, postRequestedFor(urlPathEqualTo("/prompt")));
  }

  @Test
  void withoutAWebSocketNothingIsSubmitted() {
    wiremock.stubFor(
        get(urlPathEqualTo("/history/" + PROMPT_ID))
            .willReturn(aResponse().withStatus(200).withBody("{}")));
    wiremock.stubFor(
        get("/queue")
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withBody("{\"queue_running\":[],\"queue_pending\":[]}")));
    wiremock.stubFor(
        post("/prompt")
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withBody(
                        "{\"prompt_id\":\"" + PROMPT_ID + "\",\"number\":1,\"node_errors\":{}}")));
    // WireMock has no WebSocket: the client cannot open /ws and says so (Jetty either refuses the
    // upgrade at once or leaves it unanswered until the connect timeout, depending on timing)
    assertThatThrownBy(() -> client.run(graph, PROMPT_ID, "c1", update -> {}))
        .isInstanceOfSatisfying(
            ComfyUiException.class,
            e ->
                assertThat(e.kind())
                    .isIn(
                        ComfyUiException.Kind.UNREACHABLE,
                        ComfyUiException.Kind.PROTOCOL,
                        ComfyUiException.Kind.TIMEOUT));
    wiremock.verify(0, postRequestedFor(urlPathEqualTo("/prompt")));
  }
}
