package io.tempera.backend.gradio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static io.tempera.backend.gradio.GradioStubs.event;
import static io.tempera.backend.gradio.GradioStubs.sse;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.tempera.activities.TestHost;
import io.tempera.backend.BackendRegistry;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.fixtures.TestFiles;
import io.tempera.testkit.fixtures.TestImages;
import io.temporal.client.WorkflowOptions;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once on Gradio through the workflow: a prediction whose event stream is lost (the app
 * restarted, or the connection broke: Gradio drops a disconnected session's jobs) cannot be
 * re-attached, so the run cancels its job, waits until the app answers and joins a fresh session to
 * predict afresh.
 */
class GradioRetryTest {

  @TempDir Path tmp;
  WireMockServer wiremock;
  GradioClient client;
  TestHost host;
  OutputStore outputs;

  @BeforeEach
  void setUp() throws Exception {
    wiremock = new WireMockServer(wireMockConfig().dynamicPort());
    wiremock.start();
    client = new GradioClient(URI.create(wiremock.baseUrl()), GradioClientOptions.defaults());
    Path templates = tmp.resolve("templates");
    TestFiles.copyTree(
        Path.of("src/test/resources/templates/gradio-paint"), templates.resolve("gradio-paint"));
    ObjectMapper json = new ObjectMapper();
    outputs = new OutputStore(tmp.resolve("outputs"));
    host =
        TestHost.builder(
                new TemplateRegistry(templates, json, 0),
                new BackendRegistry(List.of(GradioBackend.single(client))),
                outputs,
                new InProcessProgressBus())
            .slots(2)
            .start();
  }

  @AfterEach
  void tearDown() {
    host.close();
    client.close();
    wiremock.stop();
  }

  /** The /generate endpoint of tempera_app.py as /config and /info describe it. */
  void paintServer() {
    wiremock.stubFor(
        get("/config")
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        """
                        {"version":"5.50.0","api_prefix":"/gradio_api","protocol":"sse_v3","enable_queue":true,
                         "components":[{"id":1,"type":"textbox"},{"id":2,"type":"number"},{"id":3,"type":"number"},{"id":8,"type":"image"}],
                         "dependencies":[{"id":0,"api_name":"generate","inputs":[1,2,3],"outputs":[8],"queue":true,"types":{"generator":false}}]}\
                        """)));
    wiremock.stubFor(
        get("/gradio_api/info")
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        """
                        {"named_endpoints":{"/generate":{"parameters":[
                          {"label":"Prompt","parameter_name":"prompt","parameter_has_default":false,"parameter_default":null,"component":"Textbox"},
                          {"label":"Steps","parameter_name":"steps","parameter_has_default":true,"parameter_default":5,"component":"Number"},
                          {"label":"Size","parameter_name":"size","parameter_has_default":true,"parameter_default":32,"component":"Number"}]}}}\
                        """)));
    wiremock.stubFor(
        com.github.tomakehurst.wiremock.client.WireMock.post("/gradio_api/queue/join")
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"event_id\":\"" + GradioStubs.EVENT + "\"}")));
    wiremock.stubFor(
        com.github.tomakehurst.wiremock.client.WireMock.post("/gradio_api/cancel")
            .willReturn(
                aResponse()
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"success\":true}")));
  }

  @Test
  void aLostStreamFailsThatAttemptAndTheRetryStartsAFreshPrediction() throws Exception {
    paintServer();
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .inScenario("crash")
            .whenScenarioStateIs(STARTED)
            .willSetStateTo("lost")
            .willReturn(
                sse(
                    event("estimation", "\"rank\":0,\"queue_size\":1,\"rank_eta\":null"),
                    event("process_starts", "\"eta\":null"),
                    event(
                        "progress",
                        "\"progress_data\":[{\"index\":1,\"length\":4,\"unit\":\"steps\",\"progress\":null,\"desc\":\"Painting\"}]"))));
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .inScenario("crash")
            .whenScenarioStateIs("lost")
            .willReturn(
                sse(
                    event("process_starts", "\"eta\":null"),
                    GradioStubs.completed(
                        "["
                            + GradioStubs.fileData(
                                wiremock.baseUrl(), "/gradio_api", "/tmp/gradio/r/image.png")
                            + "]"),
                    "{\"msg\":\"close_stream\",\"event_id\":null}")));
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(TestImages.sample(), "png", png);
    wiremock.stubFor(
        get("/gradio_api/file=/tmp/gradio/r/image.png")
            .willReturn(aResponse().withBody(png.toByteArray())));

    GenerationResult result =
        TestHost.runToEnd(
            host.client.newWorkflowStub(
                GenerationWorkflow.class,
                WorkflowOptions.newBuilder()
                    .setTaskQueue(GenerationWorkflow.TASK_QUEUE)
                    .setWorkflowId("gen-retry")
                    .setWorkflowRunTimeout(Duration.ofMinutes(2))
                    .build()),
            new GenerationRequest(
                "gradio-paint", "standard", Map.of("prompt", "fox"), "p", "n", null));

    assertThat(result.status()).as("%s", result.error()).isEqualTo(GenerationStatus.SUCCEEDED);
    assertThat(result.outputs())
        .singleElement()
        .satisfies(o -> assertThat(o.contentType()).isEqualTo("image/png"));
    List<LoggedRequest> joins =
        wiremock.findAll(postRequestedFor(urlPathEqualTo("/gradio_api/queue/join")));
    assertThat(joins).as("one prediction per attempt").hasSize(2);
    Set<String> sessions =
        joins.stream()
            .map(r -> {
              try {
                return new ObjectMapper()
                    .readTree(r.getBodyAsString())
                    .get("session_hash")
                    .asText();
              } catch (Exception e) {
                throw new AssertionError(e);
              }
            })
            .collect(Collectors.toSet());
    assertThat(sessions).as("each attempt joins its own session").hasSize(2);
    assertThat(joins.get(0).getBodyAsString())
        .contains("\"data\":[\"fox\",4,32]"); // the standard tier's steps, the size default
    wiremock.verify(
        1,
        postRequestedFor(urlPathEqualTo("/gradio_api/cancel"))
            .withRequestBody(matchingJsonPath("$.event_id", equalTo(GradioStubs.EVENT))));
  }
}
