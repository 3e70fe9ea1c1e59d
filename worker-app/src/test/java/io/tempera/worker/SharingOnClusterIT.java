package io.tempera.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.webhooks.WebhookSignature;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Sharing one GPU pool, on the real Temporal server on PostgreSQL (its own CI stage, {@code
 * -Pcluster}), with an API and a worker host of one slot as separate processes and the testkit
 * ComfyUI, each generation its own step count so the backend's executions tell the order the pool
 * served them in:
 *
 * <ul>
 *   <li>a flood of one project and a trickle of another: the trickle is served at its fair share
 *       (its p95 wait in turns, beside the flood's size, which arrival order would make it wait);
 *       the flood still progresses while the trickle waits;
 *   <li>priorities: five generations queued behind a busy slot run urgent, interactive, normal,
 *       low, batch; a project key asking above its tier's default is refused with 422;
 *   <li>quotas: a project at its queued limit gets 429 QUOTA_QUEUED with Retry-After;
 *   <li>webhooks: an allow-list set over the admin API, a refused host (422), and a receiver that
 *       fails twice and then takes the signed event (WireMock), every attempt in the state;
 *   <li>batches: a sweep's progress and partial results while it runs, every variation run once;
 *       another cancelled mid-way ends CANCELLED with what finished kept, and nothing of it runs
 *       after.
 * </ul>
 *
 * Figures go to {@code target/sharing.txt}.
 */
class SharingOnClusterIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int FLOOD = 24;
  private static final int TRICKLE = 4;

  private final RealProcesses processes = new RealProcesses();
  private final WireMockServer receiver =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private ComfyUiTestServer comfy;
  private Path root;
  private Process worker;

  @BeforeEach
  void setUp() throws Exception {
    root = Files.createTempDirectory("tempera-sharing");
    RealProcesses.copyTemplatesWithSlowInvert(root);
    for (String project : List.of("flood", "trickle", "ranked", "capped", "hooked", "batched")) {
      ChaosInvert.install(root, project);
    }
    comfy = ComfyUiTestServer.start(ComfyUiTestServer.Config.ephemeral(root.resolve("comfyui")));
    receiver.start();
  }

  @AfterEach
  void tearDown() {
    processes.close();
    receiver.stop();
    if (comfy != null) {
      comfy.close();
    }
  }

  @Test
  void fairSharePrioritiesQuotasAndWebhooksOnOnePool() throws Exception {
    List<String> log = new ArrayList<>();
    TemporalCluster cluster = new TemporalCluster(processes, root.resolve("cluster")).start();
    Map<String, String> env =
        RealProcesses.workerEnvironment(
            cluster.port(), comfy.baseUrl(), root, "TEMPERA_SLOTS", "1");
    worker = processes.startWorker("sharing-worker", env);
    int api = RealProcesses.freePort();
    Process apiProcess =
        processes.startApi(
            "sharing-api",
            api,
            env,
            "--tempera.quotas.projects.capped.max-queued=2",
            "--tempera.webhooks.allow-private=true",
            "--tempera.webhooks.allow-http=true",
            "--tempera.webhooks.initial-interval=300ms",
            "--tempera.webhooks.maximum-interval=1s");
    assertThat(RealProcesses.awaitPort(api, apiProcess))
        .as("the API started (see target/sharing-api-*.log)")
        .isTrue();

    fairShare(api, log);
    priorities(api, log);
    quotas(api, log);
    webhooks(api, log);
    batches(api, log);

    Files.writeString(Path.of("target/sharing.txt"), String.join("\n", log) + "\n");
    System.out.println(String.join("\n", log));
  }

  /** A flood of {@value #FLOOD} from one project, then a trickle of {@value #TRICKLE}. */
  private void fairShare(int api, List<String> log) throws Exception {
    Map<String, Integer> flood = new LinkedHashMap<>();
    for (int i = 0; i < FLOOD; i++) {
      // 100 steps of 4 ms: about half a second each on the one slot
      flood.put(start(api, "flood", "f" + i, 100 + i, 4, null), 100 + i);
    }
    // the trickle arrives once the flood is in line and the slot is busy with it
    await("the flood running")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> !comfy.executions().isEmpty());
    Map<String, Integer> trickle = new LinkedHashMap<>();
    for (int i = 0; i < TRICKLE; i++) {
      trickle.put(start(api, "trickle", "t" + i, 200 + i, 4, null), 200 + i);
    }
    int servedBefore = comfy.executions().size();
    awaitEnded(api, flood.keySet());
    awaitEnded(api, trickle.keySet());
    assertSucceeded(api, flood.keySet());
    assertSucceeded(api, trickle.keySet());

    List<Integer> order = order();
    List<Integer> waits = new ArrayList<>();
    for (int steps : trickle.values()) {
      // a wait in turns: how many runs the pool served after the trickle came and before this one
      waits.add(order.indexOf(steps) - servedBefore + 1);
    }
    waits.sort(Integer::compare);
    int p95 = waits.get(waits.size() - 1); // nearest rank of four: the fourth
    int floodWaiting = FLOOD - servedBefore;
    long floodServedMeanwhile =
        order.subList(servedBefore, order.indexOf(200 + TRICKLE - 1)).stream()
            .filter(steps -> steps < 200)
            .count();
    log.add(
        "fair share: "
            + FLOOD
            + " flood generations, then "
            + TRICKLE
            + " trickle generations (weights 1:1, one slot): "
            + servedBefore
            + " served before the trickle came; the trickle's waits in turns "
            + waits
            + ", p95 "
            + p95
            + " (fair share: every second turn, "
            + 2 * TRICKLE
            + "; arrival order would be at least "
            + (floodWaiting + TRICKLE)
            + "); the flood was served "
            + floodServedMeanwhile
            + " times while the trickle waited");
    // the trickle's own count sets its wait, not the flood's (a run or two of slack: a host holds
    // one lease beyond its slot, granted before the trickle came)
    assertThat(p95).as("the trickle's p95 wait in turns").isLessThanOrEqualTo(2 * TRICKLE + 2);
    assertThat(p95).isLessThan(floodWaiting);
    assertThat(floodServedMeanwhile).as("the flood is not starved").isGreaterThan(0);
  }

  /** Five priorities queued behind a busy slot, in an order none of them should run in. */
  private void priorities(int api, List<String> log) throws Exception {
    // the slot and the host's one lease beyond it, busy for a few seconds
    String busy = start(api, "ranked", "busy-1", 300, 20, null);
    String next = start(api, "ranked", "busy-2", 301, 20, null);
    await("the busy run started")
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> order().contains(300));
    Map<String, Integer> stepsByPriority = new LinkedHashMap<>();
    stepsByPriority.put("batch", 310);
    stepsByPriority.put("normal", 311);
    stepsByPriority.put("low", 312);
    stepsByPriority.put("urgent", 313);
    stepsByPriority.put("interactive", 314);
    List<String> ids = new ArrayList<>(List.of(busy, next));
    stepsByPriority.forEach((priority, steps) -> {
      try {
        ids.add(start(api, "ranked", "p-" + priority, steps, 4, priority));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    awaitEnded(api, ids);
    assertSucceeded(api, ids);
    List<String> ran =
        order().stream()
            .filter(steps -> steps >= 310 && steps <= 314)
            .map(steps ->
                stepsByPriority.entrySet().stream()
                    .filter(e -> e.getValue().equals(steps))
                    .findFirst()
                    .orElseThrow()
                    .getKey())
            .toList();
    log.add(
        "priorities: queued batch, normal, low, urgent, interactive behind a busy slot; ran "
            + ran);
    assertThat(ran).containsExactly("urgent", "interactive", "normal", "low", "batch");

    // a project's own key may lower its priority, not raise it above its tier's default
    String projectKey = projectKey(api, "ranked");
    HttpResponse<String> raised =
        send(
            api,
            projectKey,
            "POST",
            "/api/generations",
            body("ranked", "raise", 320, 4, "urgent", null));
    assertThat(raised.statusCode()).as(raised.body()).isEqualTo(422);
    assertThat(JSON.readTree(raised.body()).path("code").asText())
        .isEqualTo("PRIORITY_NOT_ALLOWED");
    HttpResponse<String> lowered =
        send(
            api,
            projectKey,
            "POST",
            "/api/generations",
            body("ranked", "lower", 321, 4, "batch", null));
    assertThat(lowered.statusCode()).as(lowered.body()).isEqualTo(202);
    awaitEnded(api, List.of(JSON.readTree(lowered.body()).path("id").asText()));
    log.add("priorities: a project key asking urgent → 422 PRIORITY_NOT_ALLOWED; batch → 202");
  }

  /** A project allowed two queued generations asks for a third while the slot is busy. */
  private void quotas(int api, List<String> log) throws Exception {
    List<String> ids = new ArrayList<>();
    ids.add(start(api, "ranked", "quota-busy-1", 400, 20, null));
    ids.add(start(api, "ranked", "quota-busy-2", 401, 20, null));
    await("the busy run started")
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> order().contains(400));
    ids.add(start(api, "capped", "c1", 410, 4, null));
    ids.add(start(api, "capped", "c2", 411, 4, null));
    HttpResponse<String> third =
        processes.post(api, "/api/generations", body("capped", "c3", 412, 4, null, null));
    assertThat(third.statusCode()).as(third.body()).isEqualTo(429);
    JsonNode refused = JSON.readTree(third.body());
    assertThat(refused.path("code").asText()).isEqualTo("QUOTA_QUEUED");
    assertThat(refused.path("message").asText()).isNotBlank().doesNotContain("Exception");
    String retryAfter = third.headers().firstValue("Retry-After").orElse(null);
    assertThat(retryAfter).as("Retry-After").isNotNull();
    assertThat(Integer.parseInt(retryAfter)).isPositive();
    // another project is not held back by it
    ids.add(start(api, "trickle", "not-capped", 413, 4, null));
    awaitEnded(api, ids);
    assertSucceeded(api, ids);
    assertThat(order()).doesNotContain(412);
    log.add(
        "quotas: capped (max-queued 2) asked for a third while two waited → 429 QUOTA_QUEUED,"
            + " Retry-After "
            + retryAfter
            + " s; another project's generation admitted meanwhile");
  }

  /** The allow-list over the admin API, a refusal, and a delivery after two failures. */
  private void webhooks(int api, List<String> log) throws Exception {
    HttpResponse<String> allowed =
        send(api, null, "PUT", "/api/admin/webhooks/hooked", "{\"allowedHosts\":[\"127.0.0.1\"]}");
    assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);
    String secret = JSON.readTree(allowed.body()).path("secret").asText();
    assertThat(secret).startsWith("whsec_");

    HttpResponse<String> refused =
        processes.post(
            api,
            "/api/generations",
            body("hooked", "refused", 500, 4, null, "https://hooks.example.org/x"));
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(422);
    assertThat(JSON.readTree(refused.body()).path("code").asText())
        .isEqualTo("WEBHOOK_NOT_ALLOWED");

    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs(Scenario.STARTED)
            .willReturn(aResponse().withStatus(500))
            .willSetStateTo("once"));
    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs("once")
            .willReturn(aResponse().withStatus(503))
            .willSetStateTo("twice"));
    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs("twice")
            .willReturn(aResponse().withStatus(204)));
    String url = "http://127.0.0.1:" + receiver.port() + "/hook";
    HttpResponse<String> accepted =
        processes.post(api, "/api/generations", body("hooked", "hooked", 501, 4, null, url));
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    String id = JSON.readTree(accepted.body()).path("id").asText();
    awaitEnded(api, List.of(id));
    await("the webhook delivered")
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> state(api, id).path("webhook").path("status").asText().equals("DELIVERED"));

    List<LoggedRequest> posts = receiver.findAll(postRequestedFor(urlEqualTo("/hook")));
    assertThat(posts).hasSize(3);
    for (LoggedRequest post : posts) {
      assertThat(post.getHeader("Tempera-Event-Id")).isEqualTo("evt-" + id);
      assertThat(
              WebhookSignature.verify(
                  post.getHeader("Tempera-Signature"),
                  post.getBody(),
                  secret,
                  Instant.now().getEpochSecond(),
                  300))
          .as("the signature of attempt %s", post.getHeader("Tempera-Delivery-Attempt"))
          .isTrue();
      byte[] tampered =
          post.getBodyAsString().replace("SUCCEEDED", "FAILED").getBytes(StandardCharsets.UTF_8);
      assertThat(
              WebhookSignature.verify(
                  post.getHeader("Tempera-Signature"),
                  tampered,
                  secret,
                  Instant.now().getEpochSecond(),
                  300))
          .isFalse();
    }
    JsonNode event = JSON.readTree(posts.get(2).getBody());
    assertThat(event.path("generation").path("status").asText()).isEqualTo("SUCCEEDED");
    JsonNode attempts = state(api, id).path("webhook").path("attempts");
    assertThat(attempts).hasSize(3);
    assertThat(attempts.get(0).path("httpStatus").asInt()).isEqualTo(500);
    assertThat(attempts.get(1).path("httpStatus").asInt()).isEqualTo(503);
    assertThat(attempts.get(2).path("httpStatus").asInt()).isEqualTo(204);
    log.add(
        "webhooks: a host off the allow-list → 422 WEBHOOK_NOT_ALLOWED; a receiver answering 500,"
            + " 503, then 204 got the same signed event three times (signatures verified, a"
            + " tampered body refused), each attempt in the generation's state");
  }

  /** A sweep run to its end, its partial results read on the way; another cancelled mid-way. */
  private void batches(int api, List<String> log) throws Exception {
    // six variations of 600 steps of 5 ms (3 s each on the one slot)
    String sweep = startBatch(api, "sweep", List.of(600, 601, 602, 603, 604, 605));
    JsonNode partial =
        await("a partial result")
            .atMost(Duration.ofMinutes(2))
            .pollInterval(Duration.ofMillis(200))
            .until(
                () -> batch(api, sweep),
                b ->
                    b.path("progress").path("succeeded").asInt() >= 1
                        || !b.path("status").asText().equals("RUNNING"));
    assertThat(partial.path("status").asText()).as(partial.toString()).isEqualTo("RUNNING");
    JsonNode progress = partial.path("progress");
    assertThat(progress.path("total").asInt()).isEqualTo(6);
    assertThat(
            progress.path("succeeded").asInt()
                + progress.path("running").asInt()
                + progress.path("queued").asInt()
                + progress.path("waiting").asInt())
        .isEqualTo(6);
    JsonNode done = null;
    for (JsonNode item : partial.path("results").path("items")) {
      if (item.path("status").asText().equals("SUCCEEDED")) {
        done = item;
      }
    }
    assertThat(done).as(partial.toString()).isNotNull();
    assertThat(
            processes.getBytes(api, done.path("outputs").path(0).path("url").asText()).statusCode())
        .isEqualTo(200);

    JsonNode end =
        await("the sweep completed")
            .atMost(Duration.ofMinutes(3))
            .pollInterval(Duration.ofMillis(300))
            .until(() -> batch(api, sweep), b -> b.path("status").asText().equals("COMPLETED"));
    assertThat(end.path("progress").path("succeeded").asInt()).isEqualTo(6);
    for (int steps = 600; steps <= 605; steps++) {
      assertThat(ChaosInvert.executionsBySteps(comfy).get(steps))
          .as("variation of %d steps ran once", steps)
          .isEqualTo(1L);
    }
    log.add(
        "batches: a sweep of 6 on the one slot showed "
            + progress.path("succeeded").asInt()
            + " succeeded, "
            + progress.path("running").asInt()
            + " running, "
            + (progress.path("queued").asInt() + progress.path("waiting").asInt())
            + " waiting with the first output readable, then COMPLETED with 6 of 6, each run once");

    // cancel-all: ten variations, cancelled once the first succeeded
    List<Integer> steps = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      steps.add(700 + i);
    }
    String cancelled = startBatch(api, "cancelled", steps);
    await("the first variation succeeded")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> batch(api, cancelled).path("progress").path("succeeded").asInt() >= 1);
    HttpResponse<String> cancel =
        processes.post(api, "/api/batches/" + cancelled + "/cancel", "{}");
    assertThat(cancel.statusCode()).as(cancel.body()).isEqualTo(202);
    JsonNode after =
        await("the batch cancelled")
            .atMost(Duration.ofMinutes(1))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> batch(api, cancelled), b -> b.path("status").asText().equals("CANCELLED"));
    JsonNode left = after.path("progress");
    assertThat(left.path("succeeded").asInt()).isGreaterThanOrEqualTo(1);
    assertThat(left.path("cancelled").asInt()).isGreaterThanOrEqualTo(1);
    assertThat(
            left.path("succeeded").asInt()
                + left.path("cancelled").asInt()
                + left.path("failed").asInt()
                + left.path("waiting").asInt())
        .isEqualTo(10);
    assertThat(left.path("running").asInt() + left.path("queued").asInt()).isZero();
    // nothing of it runs after: a generation started now runs next, and no variation after it
    long ranBefore = order().stream().filter(s -> s >= 700 && s < 710).count();
    String probe = start(api, "trickle", "after-cancel", 799, 4, null);
    awaitEnded(api, List.of(probe));
    assertThat(order().stream().filter(s -> s >= 700 && s < 710).count())
        .as("variations run after the cancel")
        .isEqualTo(ranBefore);
    assertThat(ranBefore).isLessThan(10);
    log.add(
        "batches: a batch of 10 cancelled after its first succeeded ended CANCELLED with "
            + left.path("succeeded").asInt()
            + " succeeded kept, "
            + left.path("cancelled").asInt()
            + " cancelled, "
            + left.path("waiting").asInt()
            + " never started; "
            + ranBefore
            + " ran on the backend, none after the cancel");
  }

  private String startBatch(int api, String requestId, List<Integer> steps) throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("functionId", "chaos-invert");
    body.put("projectId", "batched");
    body.put("nodeId", "batch-node");
    body.put("requestId", requestId);
    body.put("sweep", Map.of("steps", steps));
    body.put("parameters", Map.of("image", "uploads/sample.png", "step_ms", 5));
    HttpResponse<String> accepted =
        processes.post(api, "/api/batches", JSON.writeValueAsString(body));
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    return JSON.readTree(accepted.body()).path("id").asText();
  }

  private JsonNode batch(int api, String id) throws Exception {
    HttpResponse<String> response = processes.get(api, "/api/batches/" + id + "?limit=500");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  // --- helpers

  private String start(
      int api, String project, String requestId, int steps, int stepMs, String priority)
      throws Exception {
    HttpResponse<String> accepted =
        processes.post(
            api, "/api/generations", body(project, requestId, steps, stepMs, priority, null));
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    return JSON.readTree(accepted.body()).path("id").asText();
  }

  private static String body(
      String project, String requestId, int steps, int stepMs, String priority, String webhook)
      throws Exception {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("functionId", "chaos-invert");
    body.put("projectId", project);
    body.put("nodeId", "node-" + requestId);
    body.put("requestId", requestId);
    if (priority != null) {
      body.put("priority", priority);
    }
    if (webhook != null) {
      body.put("webhook", Map.of("url", webhook));
    }
    body.put(
        "parameters", Map.of("image", "uploads/sample.png", "steps", steps, "step_ms", stepMs));
    return JSON.writeValueAsString(body);
  }

  /** The step counts the backend ran, in the order it ran them. */
  private List<Integer> order() {
    return comfy.executions().stream().map(ChaosInvert::stepsOf).toList();
  }

  private JsonNode state(int api, String id) throws Exception {
    return JSON.readTree(processes.get(api, "/api/generations/" + id).body());
  }

  /** A key of {@code project}, made by the operator over the admin API. */
  private String projectKey(int api, String project) throws Exception {
    HttpResponse<String> made =
        send(
            api,
            null,
            "POST",
            "/api/admin/keys",
            "{\"projectId\":\"" + project + "\",\"name\":\"sharing test\"}");
    assertThat(made.statusCode()).as(made.body()).isEqualTo(201);
    return JSON.readTree(made.body()).path("key").asText();
  }

  /** A request with {@code key} (null: the operator's). */
  private HttpResponse<String> send(int api, String key, String method, String path, String json)
      throws Exception {
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + api + path))
            .timeout(Duration.ofSeconds(30))
            .header("content-type", "application/json")
            .method(
                method,
                json == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(json));
    builder =
        key == null
            ? processes.authorized(api, builder)
            : builder.header("Authorization", "Bearer " + key);
    return processes.http().send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  private void awaitEnded(int api, Collection<String> ids) {
    await("generations ended")
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(300))
        .until(() -> {
          assertThat(worker.isAlive()).as("the worker (see target/sharing-worker-*.log)").isTrue();
          return processes.statuses(api, ids).values().stream().allMatch(RealProcesses::terminal);
        });
  }

  private void assertSucceeded(int api, Collection<String> ids) throws Exception {
    assertThat(processes.statuses(api, ids).values()).allMatch("SUCCEEDED"::equals);
  }
}
