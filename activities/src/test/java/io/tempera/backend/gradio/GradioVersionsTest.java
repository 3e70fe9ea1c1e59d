package io.tempera.backend.gradio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static io.tempera.backend.gradio.GradioStubs.callStream;
import static io.tempera.backend.gradio.GradioStubs.sse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.tempera.activities.TestJobs;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.FileInput;
import io.tempera.template.TemplateParser;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What differs between Gradio 4.x, 5.x and 6.x (PROTOCOLS.md B1), replayed with WireMock: the
 * real-server tests run the one installed version.
 */
class GradioVersionsTest {

  WireMockServer wiremock;
  @TempDir Path tmp;

  @BeforeEach
  void setUp() {
    wiremock = new WireMockServer(wireMockConfig().dynamicPort());
    wiremock.start();
  }

  @AfterEach
  void tearDown() {
    wiremock.stop();
  }

  GradioClient client(String user, String password) {
    return new GradioClient(
        URI.create(wiremock.baseUrl()),
        new GradioClientOptions(
            Duration.ofSeconds(2),
            Duration.ofSeconds(2),
            Duration.ofSeconds(5),
            Duration.ofSeconds(20),
            user,
            password));
  }

  BackendJob job(Map<String, Object> inputs, List<FileInput> files) {
    ObjectNode payload = new ObjectMapper().createObjectNode().put("api_name", "/generate");
    payload.set("inputs", new ObjectMapper().valueToTree(inputs));
    return TestJobs.job("gen-1", "run-1", TestJobs.plan(GradioBackend.TYPE, payload, files, 60));
  }

  @Test
  void gradio4HasNoPrefixCountsDependenciesByPositionAndSendsStateAsNull() throws Exception {
    GradioStubs.server(wiremock, "4.44.1", false, "sse_v3");
    wiremock.stubFor(
        get(urlPathEqualTo("/queue/data"))
            .willReturn(
                sse(
                    GradioStubs.completed(
                        "[" + GradioStubs.fileData(null, "", "/tmp/gradio/4/out.png") + "]"))));
    wiremock.stubFor(
        get("/file=/tmp/gradio/4/out.png").willReturn(aResponse().withBody(new byte[] {1, 2, 3})));
    try (GradioClient client = client(null, null)) {
      GradioApi api = client.discover();
      assertThat(api.apiPrefix()).isEmpty();
      assertThat(api.endpoints().get("/generate").fnIndex()).isEqualTo(1);

      GradioBackend backend = GradioBackend.single(client);
      BackendOutcome outcome = backend.run(job(Map.of("prompt", "cat"), List.of()), tmp, p -> {});

      wiremock.verify(
          postRequestedFor(urlPathEqualTo("/queue/join"))
              .withRequestBody(
                  equalToJson("{\"data\":[\"cat\",null],\"fn_index\":1}", true, true)));
      assertThat(backend.download(outcome.files().get(0), tmp.resolve("out.png"))).isEqualTo(3);
      wiremock.verify(getRequestedFor(urlPathEqualTo("/file=/tmp/gradio/4/out.png")));
    }
  }

  @Test
  void inputFilesAreUploadedAndSentAsFileDataWithMeta() throws Exception {
    GradioStubs.server(wiremock, "5.49.1", true, "sse_v3");
    wiremock.stubFor(post("/gradio_api/upload").willReturn(okJson("[\"/tmp/gradio/up/in.png\"]")));
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .willReturn(
                sse(
                    GradioStubs.completed(
                        "["
                            + GradioStubs.fileData(
                                wiremock.baseUrl(), "/gradio_api", "/tmp/gradio/o/out.png")
                            + "]"))));
    Path project = tmp.resolve("project");
    Files.createDirectories(project.resolve("uploads"));
    Files.write(project.resolve("uploads/in.png"), new byte[] {9, 9, 9});
    try (GradioClient client = client(null, null)) {
      GradioBackend.single(client)
          .run(
              job(
                  Map.of(),
                  List.of(
                      new FileInput(
                          "picture", "uploads/in.png", TemplateParser.GRADIO_NODE, "prompt"))),
              project,
              p -> {});
    }
    wiremock.verify(
        postRequestedFor(urlPathEqualTo("/gradio_api/upload"))
            .withHeader("Content-Type", containing("multipart/form-data"))
            .withRequestBody(containing("name=\"files\"; filename=\"in.png\"")));
    wiremock.verify(
        postRequestedFor(urlPathEqualTo("/gradio_api/queue/join"))
            .withRequestBody(
                equalToJson(
                    "{\"data\":[{\"path\":\"/tmp/gradio/up/in.png\",\"orig_name\":\"in.png\",\"meta\":{\"_type\":\"gradio.FileData\"}},null],\"fn_index\":7}",
                    true,
                    true)));
  }

  @Test
  void withoutTheQueueRouteTheTwoStepCallProtocolIsUsed() {
    GradioStubs.server(wiremock, "6.12.0", true, "sse_v3");
    wiremock.stubFor(post("/gradio_api/queue/join").willReturn(aResponse().withStatus(404)));
    wiremock.stubFor(
        post("/gradio_api/call/generate").willReturn(okJson("{\"event_id\":\"c4ll\"}")));
    wiremock.stubFor(
        get("/gradio_api/call/generate/c4ll")
            .willReturn(
                callStream(
                    "heartbeat",
                    "null",
                    "generating",
                    "[\"partial\"]",
                    "complete",
                    "[\"full text\"]")));
    try (GradioClient client = client(null, null)) {
      GradioResult result =
          client.predict(
              client.api().endpoints().get("/generate"),
              new ObjectMapper().createArrayNode().add("cat").addNull(),
              "s",
              p -> {},
              id -> {});
      assertThat(result.data())
          .singleElement()
          .satisfies(v -> assertThat(v.asText()).isEqualTo("full text"));
    }
    wiremock.verify(
        postRequestedFor(urlPathEqualTo("/gradio_api/call/generate"))
            .withRequestBody(equalToJson("{\"data\":[\"cat\",null]}")));
  }

  @Test
  void callErrorsAreNullUpTo612AndAnObjectFrom613AndANullCompletionIsACancel() {
    GradioStubs.server(
        wiremock, "6.13.0", true, "sse_v1"); // a protocol this client does not queue with: /call
    wiremock.stubFor(post("/gradio_api/call/generate").willReturn(okJson("{\"event_id\":\"e1\"}")));
    try (GradioClient client = client(null, null)) {
      GradioApi.Endpoint generate = client.api().endpoints().get("/generate");
      var data = new ObjectMapper().createArrayNode().add("cat");

      wiremock.stubFor(get("/gradio_api/call/generate/e1").willReturn(callStream("error", "null")));
      assertThatThrownBy(() -> client.predict(generate, data, "s", p -> {}, id -> {}))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.EXECUTION);
                assertThat(e.getMessage()).contains("did not show its message");
              });
      wiremock.stubFor(
          get("/gradio_api/call/generate/e1")
              .willReturn(
                  callStream("error", "{\"error\":\"The prompt is empty\",\"visible\":true}")));
      assertThatThrownBy(() -> client.predict(generate, data, "s", p -> {}, id -> {}))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> assertThat(e.getMessage()).isEqualTo("The prompt is empty"));
      wiremock.stubFor(
          get("/gradio_api/call/generate/e1")
              .willReturn(callStream("error", "\"Connection to the worker lost\"")));
      assertThatThrownBy(() -> client.predict(generate, data, "s", p -> {}, id -> {}))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> assertThat(e.getMessage()).isEqualTo("Connection to the worker lost"));
      wiremock.stubFor(
          get("/gradio_api/call/generate/e1").willReturn(callStream("complete", "null")));
      assertThat(client.predict(generate, data, "s", p -> {}, id -> {}).cancelled()).isTrue();
    }
  }

  @Test
  void theTwo401DetailShapesBothSayWhatIsMissing() {
    wiremock.stubFor(
        get("/config")
            .willReturn(
                aResponse()
                    .withStatus(401)
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"detail\":\"Not authenticated\"}")));
    try (GradioClient client = client(null, null)) {
      assertThatThrownBy(client::discover)
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.AUTH);
                assertThat(e.getMessage())
                    .contains("Not authenticated")
                    .contains("gradio-username");
              });
    }
    wiremock.stubFor(
        get("/config")
            .willReturn(
                aResponse()
                    .withStatus(401)
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        "{\"detail\":{\"error\":\"Unauthorized\",\"auth_message\":\"Log in with your team account\"}}")));
    try (GradioClient client = client(null, null)) {
      assertThatThrownBy(client::discover)
          .isInstanceOfSatisfying(
              GradioException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("Unauthorized: Log in with your team account"));
    }
  }

  @Test
  void aLoginCookieIsKeptAndSentAndThePasswordNeverAppearsInMessages() {
    wiremock.stubFor(
        get("/config")
            .inScenario("auth")
            .whenScenarioStateIs(STARTED)
            .willReturn(
                aResponse()
                    .withStatus(401)
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"detail\":\"Not authenticated\"}")));
    wiremock.stubFor(
        post("/login")
            .inScenario("auth")
            .whenScenarioStateIs(STARTED)
            .willSetStateTo("in")
            .willReturn(
                okJson("{\"success\":true}")
                    .withHeader(
                        "Set-Cookie", "access-token-unsecure-x1=tok123; Path=/; HttpOnly")));
    wiremock.stubFor(
        get("/config")
            .inScenario("auth")
            .whenScenarioStateIs("in")
            .withCookie("access-token-unsecure-x1", equalTo("tok123"))
            .willReturn(okJson(GradioStubs.config("6.25.0", true, "sse_v3"))));
    wiremock.stubFor(
        get("/gradio_api/info")
            .withCookie("access-token-unsecure-x1", equalTo("tok123"))
            .willReturn(okJson(GradioStubs.INFO)));
    try (GradioClient client = client("alice", "pa ss&word")) {
      assertThat(client.discover().version()).isEqualTo("6.25.0");
    }
    wiremock.verify(
        postRequestedFor(urlPathEqualTo("/login"))
            .withHeader("Content-Type", containing("application/x-www-form-urlencoded"))
            .withRequestBody(equalTo("username=alice&password=pa+ss%26word")));

    wiremock.resetAll();
    wiremock.stubFor(
        get("/config")
            .willReturn(
                aResponse().withStatus(401).withBody("{\"detail\":\"Not authenticated\"}")));
    wiremock.stubFor(
        post("/login")
            .willReturn(
                aResponse()
                    .withStatus(400)
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"detail\":\"Incorrect credentials.\"}")));
    try (GradioClient client = client("alice", "hunter2")) {
      assertThatThrownBy(client::discover)
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.getMessage())
                    .contains("Incorrect credentials.")
                    .doesNotContain("hunter2");
              });
      assertThat(client.toString()).doesNotContain("hunter2");
      assertThat(GradioClientOptions.defaults().withCredentials("alice", "hunter2").toString())
          .doesNotContain("hunter2");
    }
  }
}
