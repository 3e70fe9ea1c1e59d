package io.tempera.backend.gradio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static io.tempera.backend.gradio.GradioStubs.EVENT;
import static io.tempera.backend.gradio.GradioStubs.event;
import static io.tempera.backend.gradio.GradioStubs.sse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import io.tempera.backend.BackendProgress;
import io.tempera.generation.ErrorCode;
import io.temporal.failure.ApplicationFailure;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults a real Gradio will not produce on demand: broken streams, malformed events, refusals,
 * silence.
 */
class GradioClientFaultsTest {

  WireMockServer wiremock;
  GradioClient client;
  final List<BackendProgress> progress = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    wiremock = new WireMockServer(wireMockConfig().dynamicPort());
    wiremock.start();
    client =
        new GradioClient(
            URI.create(wiremock.baseUrl()),
            new GradioClientOptions(
                Duration.ofSeconds(2),
                Duration.ofSeconds(2),
                Duration.ofMillis(700),
                Duration.ofSeconds(20),
                null,
                null));
    GradioStubs.server(wiremock, "5.50.0", true, "sse_v3");
  }

  @AfterEach
  void tearDown() {
    client.close();
    wiremock.stop();
  }

  GradioResult predict() {
    GradioApi.Endpoint generate = client.api().endpoints().get("/generate");
    return client.predict(
        generate,
        new ObjectMapper().createArrayNode().add("cat").addNull(),
        "session1",
        progress::add,
        id -> {});
  }

  void stream(com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder response) {
    wiremock.stubFor(get(urlPathEqualTo("/gradio_api/queue/data")).willReturn(response));
  }

  void assertCancelled() {
    wiremock.verify(
        postRequestedFor(urlPathEqualTo("/gradio_api/cancel"))
            .withRequestBody(matchingJsonPath("$.session_hash", equalTo("session1")))
            .withRequestBody(matchingJsonPath("$.event_id", equalTo(EVENT)))
            .withRequestBody(matchingJsonPath("$.fn_index", equalTo("7"))));
  }

  @Test
  void queuePositionEtaProgressAndCompletionAllArrive() {
    stream(
        sse(
            event("estimation", "\"rank\":2,\"queue_size\":3,\"rank_eta\":12.4"),
            "{\"msg\":\"estimation\",\"event_id\":\"someone-else\",\"rank\":0,\"queue_size\":3,\"rank_eta\":null}",
            event("process_starts", "\"eta\":3.0"),
            event(
                "progress",
                "\"progress_data\":[{\"index\":3,\"length\":10,\"unit\":\"steps\",\"progress\":null,\"desc\":\"Denoising\"}]"),
            event(
                "progress",
                "\"progress_data\":[{\"index\":null,\"length\":null,\"unit\":\"steps\",\"progress\":0.9,\"desc\":null}]"),
            "{\"msg\":\"heartbeat\"}",
            GradioStubs.completed(
                "["
                    + GradioStubs.fileData(
                        wiremock.baseUrl(), "/gradio_api", "/tmp/gradio/a/out.png")
                    + "]"),
            "{\"msg\":\"close_stream\",\"event_id\":null}"));

    GradioResult result = predict();

    assertThat(result.cancelled()).isFalse();
    assertThat(result.files())
        .singleElement()
        .satisfies(f -> assertThat(f.path()).isEqualTo("/tmp/gradio/a/out.png"));
    assertThat(progress.get(0).queuePosition()).isEqualTo(3);
    assertThat(progress.get(0).message())
        .isEqualTo("Waiting in the generator's queue (position 3 of 3), done in about 12 s");
    assertThat(progress)
        .noneMatch(p -> Integer.valueOf(1).equals(p.queuePosition())); // another event's estimation
    assertThat(progress)
        .anySatisfy(p -> {
          assertThat(p.step()).isEqualTo(3);
          assertThat(p.totalSteps()).isEqualTo(10);
          assertThat(p.fraction()).isEqualTo(0.3);
          assertThat(p.message()).isEqualTo("Denoising: step 3 of 10");
        });
    assertThat(progress).anySatisfy(p -> assertThat(p.fraction()).isEqualTo(0.9));
    assertThat(progress).anySatisfy(p -> assertThat(p.message()).isEqualTo("Starting (about 3 s)"));
  }

  @Test
  void aStreamThatEndsBeforeCompletionIsUnreachableAndTheJobIsCancelled() {
    stream(
        sse(
            event("estimation", "\"rank\":0,\"queue_size\":1,\"rank_eta\":null"),
            event("process_starts", "\"eta\":null")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
              assertThat(e.getMessage()).contains("ended before the prediction finished");
            });
    assertCancelled();
  }

  @Test
  void aDroppedConnectionIsUnreachable() {
    stream(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE));
    assertThat(
            GradioBackend.toFailure(
                new GradioException(GradioException.Kind.UNREACHABLE, "x"),
                GradioBackend.endpoint(client)))
        .satisfies(f -> {
          assertThat(f.getType()).isEqualTo(ErrorCode.BACKEND_UNREACHABLE.name());
          assertThat(f.isNonRetryable()).isFalse();
        });
  }

  @Test
  void aMalformedEventIsAProtocolErrorAndTheJobIsCancelled() {
    stream(sse(event("process_starts", "\"eta\":null"), "{not json"));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.PROTOCOL);
              assertThat(e.getMessage()).contains("malformed JSON");
            });
    assertCancelled();
  }

  @Test
  void anEventWithoutMsgOrACompletionWithoutDataIsAProtocolError() {
    stream(sse("{\"event_id\":\"" + EVENT + "\"}"));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class, e -> assertThat(e.getMessage()).contains("without msg"));
    stream(
        sse(event("process_completed", "\"output\":{\"data\":\"not a list\"},\"success\":true")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class, e -> assertThat(e.getMessage()).contains("without output data"));
  }

  @Test
  void heartbeatsTooSlowGiveUpTheStream() {
    // headers and a first heartbeat, then silence far beyond Gradio's 15 s heartbeat period (scaled
    // down here)
    stream(
        sse("{\"msg\":\"heartbeat\"}", "{\"msg\":\"heartbeat\"}")
            .withChunkedDribbleDelay(2, 8_000));
    client.close();
    client =
        new GradioClient(
            URI.create(wiremock.baseUrl()),
            new GradioClientOptions(
                Duration.ofSeconds(2),
                Duration.ofSeconds(6),
                Duration.ofMillis(700),
                Duration.ofSeconds(20),
                null,
                null));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
              assertThat(e.getMessage()).contains("not even a heartbeat");
            });
    assertCancelled();
  }

  @Test
  void aLostSessionIsUnreachableAndAServerFaultIsAServerError() {
    stream(
        sse(
            "{\"msg\":\"unexpected_error\",\"event_id\":null,\"message\":\"404\",\"session_not_found\":true,\"success\":false}"));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
              assertThat(e.getMessage()).contains("lost the queue session");
            });
    stream(
        sse(
            "{\"msg\":\"unexpected_error\",\"event_id\":null,\"message\":\"Server stopped unexpectedly.\",\"success\":false}"));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.SERVER_ERROR);
              assertThat(e.getMessage()).contains("Server stopped unexpectedly.");
            });
  }

  @Test
  void a5xxOnJoinIsARetryableServerError() {
    wiremock.stubFor(
        post("/gradio_api/queue/join")
            .willReturn(aResponse().withStatus(500).withBody("Internal Server Error")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.SERVER_ERROR);
              assertThat(e.httpStatus()).isEqualTo(500);
            });
    ApplicationFailure failure =
        GradioBackend.toFailure(
            new GradioException(GradioException.Kind.SERVER_ERROR, "x"),
            GradioBackend.endpoint(client));
    assertThat(failure.isNonRetryable()).isFalse();
  }

  @Test
  void aFullQueueIsBusyAndAValidatorRefusalIsValidation() {
    wiremock.stubFor(
        post("/gradio_api/queue/join")
            .willReturn(
                aResponse()
                    .withStatus(503)
                    .withHeader("Content-Type", "application/json")
                    .withBody("{\"detail\":\"Queue is full. Max size is 2 and size is 2.\"}")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.BUSY);
              assertThat(e.getMessage()).contains("Queue is full. Max size is 2");
            });
    assertThat(
            GradioBackend.toFailure(
                    new GradioException(GradioException.Kind.BUSY, "x"),
                    GradioBackend.endpoint(client))
                .getType())
        .isEqualTo(ErrorCode.BACKEND_BUSY.name());
    wiremock.stubFor(
        post("/gradio_api/queue/join")
            .willReturn(
                aResponse()
                    .withStatus(422)
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        "{\"detail\":[{\"loc\":[\"body\",\"data\"],\"msg\":\"Prompt too long\",\"type\":\"value_error\"}]}")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.VALIDATION);
              assertThat(e.getMessage()).contains("Prompt too long");
            });
  }

  @Test
  void aFailedCompletionCarriesTheServersMessage() {
    stream(
        sse(
            event(
                "process_completed",
                "\"output\":{\"error\":\"CUDA out of memory\",\"duration\":10,\"visible\":true,\"title\":\"Error\"},\"success\":false")));
    assertThatThrownBy(this::predict)
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(GradioException.Kind.EXECUTION);
              assertThat(e.getMessage()).isEqualTo("CUDA out of memory");
            });
  }

  @Test
  void aFileUrlOnAnotherHostIsNeverFollowed() {
    client.api();
    GradioFile foreign =
        new GradioFile(
            "/tmp/gradio/x/out.png", "http://elsewhere.invalid/steal?x=1", "out.png", null, null);
    assertThat(client.fileUri(foreign).toString())
        .isEqualTo(wiremock.baseUrl() + "/gradio_api/file=/tmp/gradio/x/out.png");
    assertThatThrownBy(() ->
            client.fileUri(
                new GradioFile("http://elsewhere.invalid/x.png", null, null, null, null)))
        .isInstanceOfSatisfying(
            GradioException.class,
            e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.PROTOCOL));
  }

  @Test
  void aDownloadShorterThanTheReportedSizeIsRefused(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    wiremock.stubFor(
        get("/gradio_api/file=/tmp/gradio/x/out.png")
            .willReturn(aResponse().withBody(new byte[10])));
    assertThat(
            client.download(
                new GradioFile("/tmp/gradio/x/out.png", null, "out.png", "image/png", 10L),
                tmp.resolve("ok.png")))
        .isEqualTo(10);
    assertThatThrownBy(() ->
            client.download(
                new GradioFile("/tmp/gradio/x/out.png", null, "out.png", "image/png", 99L),
                tmp.resolve("bad.png")))
        .isInstanceOfSatisfying(
            GradioException.class, e -> assertThat(e.getMessage()).contains("the server said 99"));
    assertThat(tmp.resolve("bad.png")).doesNotExist();
  }
}
