package io.tempera.backend.gradio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED;
import static io.tempera.backend.gradio.GradioStubs.EVENT;
import static io.tempera.backend.gradio.GradioStubs.event;
import static io.tempera.backend.gradio.GradioStubs.sse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.WireMockServer;
import io.tempera.activities.TestJobs;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.CircuitBreaker;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.OutputValue;
import io.temporal.failure.ApplicationFailure;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a Gradio run comes to, against WireMock replaying what Gradio sends: values as well as
 * files, the outputs a template promises, an app that restarts mid-run (waited for, submitted
 * again), a pool with a dead app, a redeploy, and the errors' codes. The same behaviours run on
 * real Gradio apps of every major version in the real-app suites.
 */
class GradioBackendRunTest {

  static final String CONFIG =
      """
      {"version":"5.50.0","api_prefix":"/gradio_api","protocol":"sse_v3","enable_queue":true,"root":"",
       "components":[{"id":1,"type":"textbox","props":{"label":"Prompt"}},{"id":2,"type":"textbox","props":{"label":"Caption"}},
         {"id":3,"type":"number","props":{"label":"Words"}},{"id":4,"type":"state","props":{}},{"id":5,"type":"image","props":{"label":"Picture"}}],
       "dependencies":[{"id":REV,"api_name":"caption","inputs":[1],"outputs":[2,3,4,5],"queue":true,"types":{"generator":false}}]}\
      """;
  static final String INFO =
      """
      {"named_endpoints":{"/caption":{"parameters":[{"label":"Prompt","parameter_name":"prompt","parameter_has_default":false,
        "parameter_default":null,"component":"Textbox"}],
       "returns":[{"label":"Caption","component":"Textbox"},{"label":"Words","component":"Number"},{"label":"Picture","component":"Image"}]}},
       "unnamed_endpoints":{}}\
      """;

  @TempDir Path tmp;
  WireMockServer wiremock;
  final List<BackendProgress> told = new CopyOnWriteArrayList<>();
  final ObjectMapper json = new ObjectMapper();

  @BeforeEach
  void setUp() {
    wiremock = new WireMockServer(wireMockConfig().dynamicPort());
    wiremock.start();
  }

  @AfterEach
  void tearDown() {
    wiremock.stop();
  }

  void app(int revision) {
    wiremock.stubFor(
        get("/config").willReturn(okJson(CONFIG.replace("REV", Integer.toString(revision)))));
    wiremock.stubFor(get("/gradio_api/info").willReturn(okJson(INFO)));
    wiremock.stubFor(
        post("/gradio_api/queue/join").willReturn(okJson("{\"event_id\":\"" + EVENT + "\"}")));
    wiremock.stubFor(post("/gradio_api/cancel").willReturn(okJson("{\"success\":true}")));
  }

  void replies(String dataJson, String... before) {
    List<String> events = new ArrayList<>(List.of(before));
    events.add(GradioStubs.completed(dataJson));
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .willReturn(sse(events.toArray(String[]::new))));
  }

  static GradioClientOptions options(Duration grace) {
    return new GradioClientOptions(
            Duration.ofSeconds(2),
            Duration.ofSeconds(2),
            Duration.ofSeconds(5),
            Duration.ofSeconds(20),
            null,
            null)
        .withRestartGrace(grace);
  }

  GradioEndpoint endpoint(String url, Duration grace) {
    return new GradioEndpoint(
        url,
        new GradioClient(URI.create(url), options(grace)),
        new CircuitBreaker(3, Duration.ofSeconds(30), Clock.systemUTC()));
  }

  BackendJob job(String outputsJson) throws Exception {
    ObjectNode payload = json.createObjectNode().put("api_name", "/caption");
    payload.putObject("inputs").put("prompt", "a fox");
    if (outputsJson != null) {
      payload.set("outputs", json.readTree(outputsJson));
    }
    return TestJobs.job(
        "gen-1", "run-1", TestJobs.plan(GradioBackend.TYPE, payload, List.of(), 60));
  }

  BackendOutcome run(GradioBackend backend, BackendJob job) {
    return backend.run(job, tmp, told::add);
  }

  @Test
  void valuesThatAreNotFilesArePartOfTheResultNamedAfterTheirLabels() throws Exception {
    app(0);
    replies(
        "[\"A red fox.\", 3, null, null]",
        event("log", "\"log\":\"Using the small model\",\"level\":\"warning\""),
        event("log", "\"log\":\"Using the small model\",\"level\":\"warning\""));
    GradioBackend backend = new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ZERO)));
    BackendOutcome outcome = run(backend, job(null));
    assertThat(outcome.files()).isEmpty();
    assertThat(outcome.values())
        .containsExactly(
            new OutputValue("caption", "text", json.readTree("\"A red fox.\"")),
            new OutputValue("words", "number", json.readTree("3")));
    assertThat(outcome.warnings()).as("told once").containsExactly("Using the small model");
  }

  @Test
  void aTemplatesOutputsNameThemAndAMissingOneIsNotProducedNamingIt() throws Exception {
    app(0);
    replies(
        "[\"A red fox.\", 3, null, "
            + GradioStubs.fileData(wiremock.baseUrl(), "/gradio_api", "/tmp/g/p.png")
            + "]");
    GradioBackend backend = new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ZERO)));
    BackendOutcome outcome =
        run(
            backend,
            job(
                "[{\"name\":\"text\",\"from\":\"Caption\",\"required\":true},{\"name\":\"image\",\"from\":2}]"));
    assertThat(outcome.values()).extracting(OutputValue::name).containsExactly("text", "words");
    assertThat(outcome.files())
        .singleElement()
        .satisfies(f -> assertThat(f.kind()).isEqualTo("image"));

    replies("[\"\", 3, null, null]");
    assertThatThrownBy(() ->
            run(
                backend,
                job(
                    "[{\"name\":\"text\",\"from\":\"Caption\"},{\"name\":\"image\",\"from\":\"Picture\",\"required\":false}]")))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("OUTPUT_NOT_PRODUCED");
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .isEqualTo(
                      "The Gradio app returned no 'text' (its output 'Caption'), which this function"
                          + " promises");
            });

    replies("[null, null, null, null]");
    assertThatThrownBy(() -> run(backend, job(null)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> assertThat(f.getType()).isEqualTo("OUTPUT_NOT_PRODUCED"));
  }

  @Test
  void anAppThatRestartsMidRunIsWaitedForAndTheRunSubmittedAgain() throws Exception {
    app(0);
    // the first stream dies mid-run; then the app does not answer for a while (a proxy's 502);
    // then it is back and the second submission finishes
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .inScenario("restart")
            .whenScenarioStateIs(STARTED)
            .willSetStateTo("down")
            .willReturn(sse(event("process_starts", "\"eta\":4"))));
    wiremock.stubFor(
        get("/config")
            .inScenario("restart")
            .whenScenarioStateIs("down")
            .willSetStateTo("down2")
            .willReturn(aResponse().withStatus(502).withBody("Bad Gateway")));
    wiremock.stubFor(
        get("/config")
            .inScenario("restart")
            .whenScenarioStateIs("down2")
            .willSetStateTo("up")
            .willReturn(aResponse().withStatus(502).withBody("Bad Gateway")));
    wiremock.stubFor(
        get("/config")
            .inScenario("restart")
            .whenScenarioStateIs("up")
            .willReturn(okJson(CONFIG.replace("REV", "0"))));
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .inScenario("restart")
            .whenScenarioStateIs("up")
            .willReturn(sse(GradioStubs.completed("[\"A red fox.\", 3, null, null]"))));
    GradioBackend backend =
        new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ofSeconds(30))));
    // the first run's follow ends on a stream that closes early; it is not a failure of the run
    BackendOutcome outcome = run(backend, job(null));
    assertThat(outcome.values()).extracting(OutputValue::name).contains("caption");
    assertThat(wiremock.findAll(postRequestedFor(urlPathEqualTo("/gradio_api/queue/join"))))
        .as("submitted again after the app came back")
        .hasSize(2);
    assertThat(told)
        .filteredOn(BackendProgress::notice)
        .extracting(BackendProgress::message)
        .contains(
            "The generator is not answering; waiting for it to come back",
            "The generator restarted and dropped the run; it was submitted again (submission 2)");
    assertThat(outcome.warnings())
        .contains(
            "The generator restarted and dropped the run; it was submitted again (submission 2)");
  }

  @Test
  void aSingleAppIsNeverFailedAtOnceByItsBreakerAndOnePoolAppDownKeepsTheOthersServing()
      throws Exception {
    app(0);
    replies("[\"A red fox.\", 3, null, null]");
    GradioEndpoint single = endpoint(wiremock.baseUrl(), Duration.ZERO);
    for (int i = 0; i < 3; i++) {
      single.breaker().onFailure(); // three failures in a row: open
    }
    assertThat(single.breaker().state()).isEqualTo(CircuitBreaker.State.OPEN);
    BackendOutcome outcome = run(new GradioBackend(List.of(single)), job(null));
    assertThat(outcome.values()).isNotEmpty();
    assertThat(single.breaker().state())
        .as("the healthy probe let the run through and its success closed the breaker")
        .isEqualTo(CircuitBreaker.State.CLOSED);

    String dead;
    try (ServerSocket socket = new ServerSocket(0)) {
      dead = "http://127.0.0.1:" + socket.getLocalPort();
    }
    GradioEndpoint deadApp = endpoint(dead, Duration.ZERO);
    GradioBackend pool =
        new GradioBackend(List.of(deadApp, endpoint(wiremock.baseUrl(), Duration.ZERO)));
    for (int i = 0; i < 6; i++) {
      assertThat(run(pool, job(null)).values()).as("run %s", i).isNotEmpty();
    }
    assertThat(deadApp.breaker().state()).isEqualTo(CircuitBreaker.State.OPEN);
  }

  @Test
  void aRedeployIsNoticedBeforeTheNextRunAndItsApiReadAgain() throws Exception {
    app(0);
    replies("[\"A red fox.\", 3, null, null]");
    GradioBackend backend = new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ZERO)));
    run(backend, job(null));
    app(9); // redeployed: the function's id changed
    run(backend, job(null));
    List<JsonNode> joins =
        wiremock.findAll(postRequestedFor(urlPathEqualTo("/gradio_api/queue/join"))).stream()
            .map(r -> {
              try {
                return json.readTree(r.getBodyAsString());
              } catch (Exception e) {
                throw new AssertionError(e);
              }
            })
            .toList();
    assertThat(joins).extracting(j -> j.get("fn_index").asInt()).containsExactly(0, 9);
    assertThat(wiremock.findAll(getRequestedFor(urlPathEqualTo("/gradio_api/info")))).hasSize(2);
  }

  @Test
  void aRefusedLoginIsAnOperatorsErrorAndGrErrorIsTheAppsWordsUnquoted() throws Exception {
    app(0);
    wiremock.stubFor(
        get("/config")
            .willReturn(
                aResponse().withStatus(401).withBody("{\"detail\":\"Not authenticated\"}")));
    GradioBackend backend = new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ZERO)));
    assertThatThrownBy(() -> run(backend, job(null)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("BACKEND_MISCONFIGURED");
              assertThat(f.isNonRetryable()).isTrue();
              assertThat(f.getOriginalMessage())
                  .isEqualTo(
                      "This function is unavailable right now: its Gradio app refused the worker's"
                          + " login.")
                  .doesNotContain("gradio-username");
            });

    app(0);
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .willReturn(
                sse(
                    "{\"msg\":\"process_completed\",\"event_id\":\""
                        + EVENT
                        + "\",\"output\":{\"error\":\"'The prompt is not allowed: it\\\\'s rude'\"},\"success\":false}")));
    assertThatThrownBy(() -> run(backend, job(null)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("EXECUTION_ERROR");
              assertThat(f.getOriginalMessage()).isEqualTo("The prompt is not allowed: it's rude");
            });
  }

  @Test
  void aGrErrorIsToldWithoutControlCharactersAndAtMost500CharactersTheWholeTextForOperators()
      throws Exception {
    app(0);
    String longText = "x".repeat(1_000);
    ObjectNode output = json.createObjectNode();
    output.put("error", "Refused:\n\u001b[1mbold\u0007 " + longText);
    ObjectNode completed =
        json.createObjectNode()
            .put("msg", "process_completed")
            .put("event_id", EVENT)
            .put("success", false);
    completed.set("output", output);
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data")).willReturn(sse(completed.toString())));
    GradioBackend backend = new GradioBackend(List.of(endpoint(wiremock.baseUrl(), Duration.ZERO)));
    assertThatThrownBy(() -> run(backend, job(null)))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f -> {
              assertThat(f.getType()).isEqualTo("EXECUTION_ERROR");
              assertThat(f.getOriginalMessage())
                  .startsWith("Refused: [1mbold x")
                  .hasSize(500)
                  .endsWith("…")
                  .doesNotContain("\n")
                  .doesNotContain("\u001b")
                  .doesNotContain("\u0007");
              assertThat(f.getDetails().get(0, String.class))
                  .as("operators get the app's text whole")
                  .isEqualTo("Refused:\n\u001b[1mbold\u0007 " + longText);
            });
  }

  @Test
  void aModelsOwnContainerIsCalledAtItsAddressNotTheConfiguredApps() throws Exception {
    app(0);
    replies("[\"A red fox.\", 3, null, null]");
    String dead;
    try (ServerSocket socket = new ServerSocket(0)) {
      dead = "http://127.0.0.1:" + socket.getLocalPort();
    }
    // the configured app is down; the job runs on the container the host started for its model
    GradioBackend backend = new GradioBackend(List.of(endpoint(dead, Duration.ofMinutes(5))));
    BackendOutcome outcome = run(backend, job(null).at(wiremock.baseUrl()));
    assertThat(outcome.values()).extracting(OutputValue::name).contains("caption");
    assertThat(outcome.files()).isEmpty();
  }

  @Test
  void aRunWhoseAppGoesAwayMidRunIsSubmittedToAnotherAppOfThePool() throws Exception {
    app(0);
    // the first app's stream ends mid-run (it went away) and it stays away
    wiremock.stubFor(
        get(urlPathEqualTo("/gradio_api/queue/data"))
            .inScenario("gone")
            .whenScenarioStateIs(STARTED)
            .willSetStateTo("away")
            .willReturn(sse(event("process_starts", "\"eta\":4"))));
    wiremock.stubFor(
        get("/config")
            .inScenario("gone")
            .whenScenarioStateIs("away")
            .willReturn(aResponse().withStatus(502)));
    WireMockServer other = new WireMockServer(wireMockConfig().dynamicPort());
    other.start();
    try {
      other.stubFor(get("/config").willReturn(okJson(CONFIG.replace("REV", "0"))));
      other.stubFor(get("/gradio_api/info").willReturn(okJson(INFO)));
      other.stubFor(
          post("/gradio_api/queue/join").willReturn(okJson("{\"event_id\":\"" + EVENT + "\"}")));
      other.stubFor(
          get(urlPathEqualTo("/gradio_api/queue/data"))
              .willReturn(sse(GradioStubs.completed("[\"From the other app.\", 4, null, null]"))));
      GradioBackend pool =
          new GradioBackend(
              List.of(
                  endpoint(wiremock.baseUrl(), Duration.ofSeconds(30)),
                  endpoint(other.baseUrl(), Duration.ofSeconds(30))));
      BackendOutcome outcome = run(pool, job(null));
      assertThat(outcome.values().get(0).value().asText()).isEqualTo("From the other app.");
      assertThat(outcome.warnings())
          .containsExactly(
              "The generator went away mid-run; the run was submitted to another one (submission"
                  + " 2)");
    } finally {
      other.stop();
    }
  }
}
