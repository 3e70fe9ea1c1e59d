package io.tempera.backend.comfyui;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.CircuitBreaker;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.GenerationPlan;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.temporal.failure.ApplicationFailure;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several ComfyUI endpoints: a dead one is skipped by its breaker; a run stays where it was
 * submitted.
 */
class ComfyUiBackendEndpointsTest {

  @TempDir Path tmp;
  ComfyUiTestServer live;
  ComfyUiClient deadClient;
  ComfyUiClient liveClient;
  ComfyUiBackend backend;
  CircuitBreaker deadBreaker;

  @BeforeEach
  void setUp() throws Exception {
    live = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(tmp.resolve("live")));
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    ComfyUiClientOptions options =
        new ComfyUiClientOptions(
            Duration.ofMillis(500),
            Duration.ofSeconds(5),
            Duration.ofSeconds(1),
            Duration.ofSeconds(30));
    deadClient = new ComfyUiClient(URI.create("http://127.0.0.1:" + closedPort), options);
    liveClient = new ComfyUiClient(live.baseUrl(), options);
    deadBreaker = new CircuitBreaker(2, Duration.ofMinutes(5), Clock.systemUTC());
    backend =
        new ComfyUiBackend(
            List.of(
                new ComfyUiEndpoint("dead", deadClient, deadBreaker),
                new ComfyUiEndpoint(
                    "live",
                    liveClient,
                    new CircuitBreaker(2, Duration.ofMinutes(5), Clock.systemUTC()))));
  }

  @AfterEach
  void tearDown() {
    deadClient.close();
    liveClient.close();
    live.close();
  }

  BackendJob job() throws Exception {
    ObjectNode graph =
        (ObjectNode)
            new ObjectMapper()
                .readTree(
                    """
                    {"1":{"class_type":"EmptyImage","inputs":{"width":4,"height":4,"batch_size":1,"color":7}},
                     "2":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"ep"}}}\
                    """);
    GenerationPlan plan =
        new GenerationPlan(
            "f",
            "1",
            "standard",
            "standard",
            "comfyui",
            graph,
            List.of(),
            60,
            List.of(),
            null,
            null,
            null,
            null,
            0);
    return new BackendJob("gen-x", "p", "n", UUID.randomUUID().toString(), plan, null);
  }

  @Test
  void aFailingEndpointIsSkippedOnceItsBreakerOpens() throws Exception {
    for (int i = 0; i < 2; i++) {
      BackendJob job = job();
      assertThatThrownBy(() -> backend.run(job, tmp, p -> {}))
          .isInstanceOfSatisfying(
              ApplicationFailure.class,
              f -> {
                assertThat(f.getType()).isEqualTo("BACKEND_UNREACHABLE");
                assertThat(f.isNonRetryable()).isFalse();
                assertThat(f.getOriginalMessage()).isEqualTo("ComfyUI is unreachable");
              });
    }
    assertThat(deadBreaker.state()).isEqualTo(CircuitBreaker.State.OPEN);

    BackendOutcome outcome = backend.run(job(), tmp, p -> {});
    assertThat(outcome.interrupted()).isFalse();
    assertThat(outcome.files())
        .singleElement()
        .satisfies(f -> assertThat(f.origin()).isEqualTo("live"));
    long bytes = backend.download(outcome.files().get(0), tmp.resolve("out.png"));
    assertThat(bytes).isPositive();
  }

  @Test
  void aRunAlreadyOnAnEndpointIsFollowedThereNotSubmittedElsewhere() throws Exception {
    deadBreaker.onFailure();
    deadBreaker.onFailure();
    BackendJob job = job();
    liveClient.submit(job.plan().payload(), job.runId(), "tempera-" + job.runId());

    BackendOutcome outcome = backend.run(job, tmp, p -> {});

    assertThat(outcome.submitted()).isFalse();
    assertThat(live.promptPostCount()).isEqualTo(1);
  }

  @Test
  void whenEveryEndpointIsOpenTheFailureSaysWhenTheNextProbeIs() throws Exception {
    deadBreaker.onFailure();
    deadBreaker.onFailure();
    ComfyUiBackend both =
        new ComfyUiBackend(
            List.of(
                new ComfyUiEndpoint("dead", deadClient, deadBreaker),
                new ComfyUiEndpoint("dead-too", deadClient, deadBreaker)));
    assertThatThrownBy(() -> both.run(job(), tmp, p -> {}))
        .isInstanceOfSatisfying(
            ApplicationFailure.class,
            f ->
                assertThat(f.getOriginalMessage())
                    .startsWith("All 2 ComfyUI endpoints are failing"));
  }
}
