package io.tempera.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.temporal.client.WorkflowClient;
import io.temporal.worker.WorkerFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A seed the request leaves out is drawn afresh by the API, within the parameter's bounds, and is
 * part of the generation's request: its state shows it (so the result can be reproduced), and two
 * identical requests without one are two generations with two seeds. A seed the request sends is
 * kept. The generations run as workflows of a stand-in that ends at once with its request's
 * parameters.
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=target/random-seed-templates",
      "tempera.output-root=target/random-seed-outputs"
    })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RandomSeedApiTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final long MAX = 16_777_215;

  static {
    // a function with a random seed, on the pattern graph (its colour takes the seed)
    Path dir = Path.of("target", "random-seed-templates", "functions", "seeded");
    try {
      Files.createDirectories(dir);
      Files.copy(
          Path.of("..", "templates", "functions", "generate-pattern", "pattern.graph.json"),
          dir.resolve("pattern.graph.json"),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(
          dir.resolve("template.json"),
          """
          {
            "id": "seeded",
            "version": "1.0.0",
            "display_name": "Seeded",
            "category": "generation",
            "description": "A colour field whose colour is its seed",
            "backend": { "type": "comfyui", "graph": "pattern.graph.json" },
            "parameters": {
              "seed": { "type": "integer", "random": true, "min": 0, "max": %d,
                        "description": "left out, a new random one" }
            },
            "parameter_mapping": [
              { "parameter": "seed", "type": "direct", "target": "1.inputs.color" }
            ],
            "quality_parameters": { "draft": {}, "standard": {}, "high": {}, "ultra": {} }
          }
          """
              .formatted(MAX));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Autowired io.tempera.security.ApiKeyStore keys;
  @Autowired WorkflowClient client;
  @LocalServerPort int port;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  WorkerFactory workers;

  /** Ends at once, SUCCEEDED, with its request's parameters. */
  public static class EndsWithItsParameters extends EndsAtOnce {

    @Override
    public GenerationResult run(GenerationRequest request) {
      result =
          new GenerationResult(
              io.temporal.workflow.Workflow.getInfo().getWorkflowId(),
              GenerationStatus.SUCCEEDED,
              1.0,
              request.functionId(),
              "1.0.0",
              request.projectId(),
              request.nodeId(),
              request.tier(),
              request.tier(),
              List.of(),
              null,
              List.of(),
              List.of(),
              null,
              null,
              List.of(),
              request.parameters());
      return result;
    }
  }

  @BeforeAll
  void startTheStandIn() {
    workers = WorkerFactory.newInstance(client);
    workers
        .newWorker(GenerationService.taskQueueFor(request(null)))
        .registerWorkflowImplementationTypes(EndsWithItsParameters.class);
    workers.start();
  }

  @AfterAll
  void stopWorkers() {
    if (workers != null) {
      workers.shutdownNow();
    }
  }

  private static GenerationRequest request(Map<String, Object> parameters) {
    return new GenerationRequest("seeded", "standard", parameters, "p", "n", null);
  }

  /** POST /api/generations of the seeded function with these parameters (a JSON object). */
  private HttpResponse<String> post(String parameters) throws Exception {
    return http.send(
        TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("content-type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"functionId\":\"seeded\",\"projectId\":\"p\",\"nodeId\":\"n\","
                        + "\"tier\":\"standard\",\"parameters\":"
                        + parameters
                        + "}"))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The state of a generation started with these parameters, once it ended. */
  private JsonNode start(String parameters) throws Exception {
    HttpResponse<String> response = post(parameters);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    String id = JSON.readTree(response.body()).get("id").asText();
    return await("the stand-in's end")
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () ->
                JSON.readTree(
                    http.send(
                            TestKeys.request(
                                    keys,
                                    URI.create(
                                        "http://127.0.0.1:" + port + "/api/generations/" + id))
                                .build(),
                            HttpResponse.BodyHandlers.ofString())
                        .body()),
            state -> state.path("status").asText().equals("SUCCEEDED"));
  }

  @Test
  void aSeedLeftOutIsDrawnWithinItsBoundsAndShownInTheState() throws Exception {
    Set<Long> seeds = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      JsonNode state = start("{}");
      JsonNode seed = state.path("parameters").path("seed");
      assertThat(seed.isIntegralNumber()).as("the drawn seed in %s", state).isTrue();
      assertThat(seed.asLong()).isBetween(0L, MAX);
      seeds.add(seed.asLong());
    }
    assertThat(seeds).as("three identical requests, three seeds").hasSize(3);
  }

  @Test
  void aSeedTheRequestSendsIsKept() throws Exception {
    JsonNode state = start("{\"seed\": 42}");
    assertThat(state.path("parameters").path("seed").asLong()).isEqualTo(42);
  }

  @Test
  void aSeedOutOfItsBoundsIsRefused() throws Exception {
    HttpResponse<String> response = post("{\"seed\":" + (MAX + 1) + "}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(422);
    assertThat(response.body()).contains("INVALID_PARAMETERS");
  }

  @Test
  void theFunctionsSchemaSaysTheSeedIsRandom() throws Exception {
    HttpResponse<String> response =
        http.send(
            TestKeys.request(keys, URI.create("http://127.0.0.1:" + port + "/api/functions"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode functions = JSON.readTree(response.body());
    JsonNode seeded = null;
    for (JsonNode f : functions.isArray() ? functions : functions.path("functions")) {
      if (f.path("id").asText().equals("seeded")) {
        seeded = f;
      }
    }
    assertThat(seeded).as("the seeded function in %s", response.body()).isNotNull();
    assertThat(seeded.toString()).contains("\"x-tempera-random\":true");
    assertThat(seeded.toString()).doesNotContain("\"default\"");
  }
}
