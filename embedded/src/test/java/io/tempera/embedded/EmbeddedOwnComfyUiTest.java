package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.worker.ComfyUiUrls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ApplicationContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The embedded default on a ComfyUI of the user's own ({@code TEMPERA_COMFYUI_URL}, here a testkit
 * server the test starts itself, standing in for a real one): no testkit server starts in the
 * application, the worker runs generations on the given server, and the start-up log says which.
 */
@ExtendWith(OutputCaptureExtension.class)
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"spring.config.name=tempera-embedded"})
class EmbeddedOwnComfyUiTest {

  static final Path ROOT = EmbeddedTestRoot.create("tempera-own-comfyui");
  static final ComfyUiTestServer OWN =
      ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(ROOT.resolve("own-comfyui")));
  static final ObjectMapper JSON = new ObjectMapper();

  @LocalServerPort int port;
  @Autowired ApplicationContext context;
  @Autowired ComfyUiUrls comfyUiUrls;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
    // as TEMPERA_COMFYUI_URL sets it (tempera-embedded.yml), with a trailing slash
    registry.add(EmbeddedConfiguration.COMFYUI_URL, () -> OWN.baseUrl() + "/");
  }

  @AfterAll
  static void stop() {
    OWN.close();
  }

  @Test
  void noTestkitServerStartsAndTheWorkerRunsOnTheGivenComfyUi() throws Exception {
    assertThat(context.getBeanNamesForType(ComfyUiTestServer.class)).isEmpty();
    assertThat(comfyUiUrls.urls()).containsExactly(OWN.baseUrl());
    assertThat(Files.exists(ROOT.resolve("comfyui"))).as("the testkit's data folder").isFalse();

    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> started =
        http.send(
            EmbeddedTestRoot.request(
                    ROOT, URI.create("http://127.0.0.1:" + port + "/api/generations"))
                .header("content-type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(
                            Map.of(
                                "functionId",
                                "generate-pattern",
                                "tier",
                                "draft",
                                "projectId",
                                "own",
                                "nodeId",
                                "n",
                                "requestId",
                                "own-" + UUID.randomUUID(),
                                "parameters",
                                Map.of()))))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    JsonNode state = null;
    for (long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        System.nanoTime() < deadline; ) {
      state =
          JSON.readTree(
              http.send(
                      EmbeddedTestRoot.request(
                              ROOT,
                              URI.create("http://127.0.0.1:" + port + "/api/generations/" + id))
                          .build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body());
      if (!List.of("QUEUED", "RUNNING").contains(state.path("status").asText())) {
        break;
      }
      Thread.sleep(200);
    }
    assertThat(state.path("status").asText()).as(state.toString()).isEqualTo("SUCCEEDED");
    assertThat(OWN.acceptedPromptCount()).as("the given server ran it").isPositive();
  }

  @Test
  void theStartUpLogSaysWhichComfyUiItUses(CapturedOutput output) {
    // the context started within this class's capture
    assertThat(output.getOut())
        .contains(
            "ComfyUI: "
                + OWN.baseUrl()
                + " (TEMPERA_COMFYUI_URL); no testkit server started; it answers")
        .doesNotContain("the in-process testkit server");
    assertThat(EmbeddedConfiguration.probe(OWN.baseUrl())).startsWith("it answers");
    assertThat(EmbeddedConfiguration.probe(URI.create("http://127.0.0.1:1")))
        .startsWith("it does not answer yet");
  }

  @Test
  void urlsAreCheckedAndSeveralMayBeGiven() {
    assertThat(
            EmbeddedConfiguration.parseUrls(" http://127.0.0.1:8188/ , https://gpu-1.studio:443"))
        .containsExactly(
            URI.create("http://127.0.0.1:8188"), URI.create("https://gpu-1.studio:443"));
    assertThatThrownBy(() -> EmbeddedConfiguration.parseUrls("127.0.0.1:8188"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("TEMPERA_COMFYUI_URL must be http(s)://host:port");
  }
}
