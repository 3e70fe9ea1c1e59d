package io.tempera.api;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.tempera.api.webhooks.Webhooks;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.Webhook;
import io.tempera.webhooks.WebhookDeliveryState;
import io.tempera.webhooks.WebhookDeliveryStatus;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookEvent;
import io.tempera.webhooks.WebhookRetry;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import io.temporal.worker.WorkerFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Webhooks through the API: refused at submit when the project's allow-list or the URL's form says
 * no; accepted into the generation's request otherwise; and delivered by the API's own worker to a
 * WireMock receiver that fails twice and then takes the event — signed as the README documents, the
 * same event id each time, every attempt in the generation's REST state. Receivers on 127.0.0.1
 * need {@code tempera.webhooks.allow-private} (and http, {@code allow-http}).
 */
@SpringBootTest(
    classes = ApiApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-api",
      "spring.temporal.test-server.enabled=true",
      "tempera.templates-dir=../templates",
      "tempera.output-root=target/api-webhooks-test-outputs",
      "tempera.webhooks.allow-private=true",
      "tempera.webhooks.allow-http=true",
      "tempera.webhooks.initial-interval=200ms",
      "tempera.webhooks.maximum-interval=1s"
    })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WebhooksApiTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String QUEUE = "webhooks-api-test";
  static final String PROJECT = "hooked";

  @Autowired ApiKeyStore keys;
  @Autowired io.micrometer.core.instrument.MeterRegistry metrics;
  @Autowired WorkflowClient client;
  @LocalServerPort int port;

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final WireMockServer receiver = new WireMockServer(WireMockConfiguration.options().dynamicPort());
  WorkerFactory workers;
  String secret;

  @BeforeAll
  void start() {
    receiver.start();
    secret = keys.allowWebhookHosts(PROJECT, List.of("127.0.0.1", "*.example.com"));
    if (secret == null) {
      secret = keys.rotateWebhookSecret(PROJECT); // a keys file left by an earlier run
    }
    workers = WorkerFactory.newInstance(client);
    workers
        .newWorker(QUEUE)
        .registerWorkflowImplementationTypes(GenerationValuesApiTest.EndsWithValues.class);
    workers.start();
  }

  @AfterAll
  void stop() {
    receiver.stop();
    if (workers != null) {
      workers.shutdownNow();
    }
  }

  private HttpResponse<String> submit(String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/generations"))
            .header("Authorization", "Bearer " + TestKeys.project(keys, PROJECT))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String withWebhook(String webhook) {
    return "{\"functionId\":\"generate-pattern\",\"projectId\":\""
        + PROJECT
        + "\",\"nodeId\":\"n1\",\"parameters\":{},\"webhook\":"
        + webhook
        + "}";
  }

  private static void assertRefused(HttpResponse<String> response, int status, String code)
      throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    JsonNode error = JSON.readTree(response.body());
    assertThat(error.get("code").asText()).isEqualTo(code);
    assertThat(error.get("message").asText()).isNotBlank().doesNotContain("Exception");
  }

  @Test
  void aWebhookOutsideTheProjectsAllowListIsRefusedAtSubmit() throws Exception {
    HttpResponse<String> response = submit(withWebhook("{\"url\":\"https://evil.example.org/x\"}"));
    assertRefused(response, 422, "WEBHOOK_NOT_ALLOWED");
    assertThat(JSON.readTree(response.body()).get("message").asText())
        .contains("evil.example.org")
        .contains("127.0.0.1, *.example.com");
    // a wildcard allows subdomains, not the name itself
    assertRefused(
        submit(withWebhook("{\"url\":\"https://example.com/x\"}")), 422, "WEBHOOK_NOT_ALLOWED");
  }

  @Test
  void aMalformedOrUnsafeUrlIsRefusedAtSubmit() throws Exception {
    assertRefused(
        submit(withWebhook("{\"url\":\"ftp://127.0.0.1/x\"}")), 422, "WEBHOOK_INVALID_URL");
    assertRefused(
        submit(withWebhook("{\"url\":\"https://user:pw@127.0.0.1/x\"}")),
        422,
        "WEBHOOK_INVALID_URL");
    assertRefused(submit(withWebhook("{\"url\":\"not a url\"}")), 422, "WEBHOOK_INVALID_URL");
    assertRefused(submit(withWebhook("\"https://127.0.0.1/x\"")), 400, "INVALID_REQUEST");
    assertRefused(
        submit(withWebhook("{\"url\":\"https://127.0.0.1/x\",\"secret\":\"x\"}")),
        400,
        "INVALID_REQUEST");
    assertRefused(submit(withWebhook("{\"url\":42}")), 400, "INVALID_REQUEST");
  }

  @Test
  void anAllowedWebhookIsKeptInTheGenerationsRequestAndMemo() throws Exception {
    String url = "http://127.0.0.1:" + receiver.port() + "/accepted";
    HttpResponse<String> response = submit(withWebhook("{\"url\":\"" + url + "\"}"));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
    String id = JSON.readTree(response.body()).get("id").asText();

    GenerationRequest request =
        client
            .fetchHistory(id)
            .getEvents()
            .get(0)
            .getWorkflowExecutionStartedEventAttributes()
            .getInput()
            .getPayloadsList()
            .stream()
            .map(p ->
                io.temporal.common.converter.GlobalDataConverter.get()
                    .fromPayload(p, GenerationRequest.class, GenerationRequest.class))
            .findFirst()
            .orElseThrow();
    assertThat(request.webhook().url()).isEqualTo(url);
    assertThat(request.webhook().retry())
        .isEqualTo(
            WebhookRetry.of(Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofHours(24)));

    // in its memo too, so its state shows the webhook before the delivery starts
    assertThat(
            client
                .newUntypedWorkflowStub(id)
                .describe()
                .getMemo(Webhooks.MEMO_WEBHOOK, String.class))
        .isEqualTo(url);
    client.newUntypedWorkflowStub(id).terminate("test done");
  }

  private JsonNode get(String id) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/api/generations/" + id))
                .header("Authorization", "Bearer " + TestKeys.project(keys, PROJECT))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  @Test
  void aReceiverThatFailsTwiceGetsTheSignedEventOnTheThirdAttempt() throws Exception {
    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs(Scenario.STARTED)
            .willReturn(aResponse().withStatus(500))
            .willSetStateTo("failed once"));
    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs("failed once")
            .willReturn(aResponse().withStatus(503).withBody("still down"))
            .willSetStateTo("failed twice"));
    receiver.stubFor(
        post(urlEqualTo("/hook"))
            .inScenario("flaky")
            .whenScenarioStateIs("failed twice")
            .willReturn(aResponse().withStatus(200)));
    String url = "http://127.0.0.1:" + receiver.port() + "/hook";
    String id = "gen-webhook-api-flaky";
    long retriedBefore = attempts("retried", "5xx");
    long deliveredBefore = attempts("delivered", "2xx");

    // a generation that ended (a stand-in workflow), naming the webhook in its memo as the API does
    GenerationWorkflow generation =
        client.newWorkflowStub(
            GenerationWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(QUEUE)
                .setWorkflowId(id)
                .setMemo(
                    Map.of(GenerationService.MEMO_PROJECT, PROJECT, Webhooks.MEMO_WEBHOOK, url))
                .build());
    GenerationResult result =
        generation.run(new GenerationRequest("caption", "standard", Map.of(), PROJECT, "n1", null));
    assertThat(result.status()).isEqualTo(GenerationStatus.SUCCEEDED);
    // its delivery, started as the generation workflow starts it once it ended
    Webhook webhook =
        new Webhook(
            url,
            WebhookRetry.of(Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofHours(1)));
    WebhookDeliveryWorkflow delivery =
        client.newWorkflowStub(
            WebhookDeliveryWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(WebhookDeliveryWorkflow.TASK_QUEUE)
                .setWorkflowId(WebhookDeliveryWorkflow.idFor(id))
                .build());
    WorkflowClient.start(
        delivery::deliver, WebhookEvent.ofGeneration(result, webhook, Instant.now().toString()));
    WebhookDeliveryState delivered =
        WorkflowStub.fromTyped(delivery)
            .getResult(60, TimeUnit.SECONDS, WebhookDeliveryState.class);

    assertThat(delivered.status()).isEqualTo(WebhookDeliveryStatus.DELIVERED);
    List<LoggedRequest> posts = receiver.findAll(postRequestedFor(urlEqualTo("/hook")));
    assertThat(posts).hasSize(3);
    for (int i = 0; i < posts.size(); i++) {
      LoggedRequest post = posts.get(i);
      assertThat(post.getHeader("Tempera-Event-Id")).isEqualTo("evt-" + id);
      assertThat(post.getHeader("Tempera-Event-Type")).isEqualTo("generation.succeeded");
      assertThat(post.getHeader("Tempera-Delivery-Attempt")).isEqualTo(Integer.toString(i + 1));
      assertThat(post.getHeader("Content-Type")).startsWith("application/json");
      assertThat(verifiesAsDocumented(post.getHeader("Tempera-Signature"), post.getBody(), secret))
          .as("signature of attempt %d", i + 1)
          .isTrue();
      assertThat(
              verifiesAsDocumented(post.getHeader("Tempera-Signature"), post.getBody(), "whsec_x"))
          .isFalse();
      byte[] tampered =
          post.getBodyAsString().replace("SUCCEEDED", "FAILED").getBytes(StandardCharsets.UTF_8);
      assertThat(verifiesAsDocumented(post.getHeader("Tempera-Signature"), tampered, secret))
          .isFalse();
    }
    JsonNode event = JSON.readTree(posts.get(2).getBody());
    assertThat(event.get("id").asText()).isEqualTo("evt-" + id);
    assertThat(event.get("type").asText()).isEqualTo("generation.succeeded");
    assertThat(event.get("projectId").asText()).isEqualTo(PROJECT);
    JsonNode generationJson = event.get("generation");
    assertThat(generationJson.get("id").asText()).isEqualTo(id);
    assertThat(generationJson.get("status").asText()).isEqualTo("SUCCEEDED");
    OutputRef output = result.outputs().get(0);
    assertThat(generationJson.get("outputs").get(0).get("url").asText())
        .startsWith("/api/generations/" + id + "/outputs/" + output.name())
        .contains("signature=");
    assertThat(generationJson.get("values")).hasSize(3);

    // every attempt in the generation's REST state
    JsonNode hook = get(id).get("webhook");
    assertThat(hook.get("status").asText()).isEqualTo("DELIVERED");
    assertThat(hook.get("url").asText()).isEqualTo(url);
    assertThat(hook.get("eventId").asText()).isEqualTo("evt-" + id);
    JsonNode attempts = hook.get("attempts");
    assertThat(attempts).hasSize(3);
    assertThat(attempts.get(0).get("httpStatus").asInt()).isEqualTo(500);
    assertThat(attempts.get(0).get("error").asText()).contains("HTTP 500");
    assertThat(attempts.get(1).get("httpStatus").asInt()).isEqualTo(503);
    assertThat(attempts.get(2).get("httpStatus").asInt()).isEqualTo(200);
    assertThat(attempts.get(2).has("error")).isFalse();
    assertThat(Instant.parse(attempts.get(1).get("at").asText()))
        .isAfter(Instant.parse(attempts.get(0).get("at").asText()));

    // and in the metrics: two retried after a 5xx, one delivered
    assertThat(attempts("retried", "5xx") - retriedBefore).isEqualTo(2);
    assertThat(attempts("delivered", "2xx") - deliveredBefore).isEqualTo(1);
  }

  private long attempts(String outcome, String status) {
    var timer =
        metrics
            .find(io.tempera.api.webhooks.WebhookActivitiesImpl.ATTEMPTS)
            .tag("outcome", outcome)
            .tag("status", status)
            .timer();
    return timer == null ? 0 : timer.count();
  }

  private HttpResponse<String> admin(String method, String path, String body, String key)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/api/admin/webhooks" + path))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void operatorsSetAllowListsAndRotateSecretsOverHttp() throws Exception {
    String operator = TestKeys.operator(keys);
    // a project of its own each run: the keys file outlives a run
    String project = "hooked-admin-" + Long.toHexString(System.nanoTime());

    assertRefused(admin("GET", "/" + project, null, operator), 404, "NO_WEBHOOK_SETTINGS");
    // the first allow-list makes the project's secret and shows it once
    HttpResponse<String> made =
        admin(
            "PUT",
            "/" + project,
            "{\"allowedHosts\":[\"Hooks.Example.com\",\"*.example.org\",\"hooks.example.com\"]}",
            operator);
    assertThat(made.statusCode()).as(made.body()).isEqualTo(200);
    JsonNode changed = JSON.readTree(made.body());
    String first = changed.get("secret").asText();
    assertThat(first).startsWith("whsec_");
    assertThat(changed.get("webhooks").get("allowedHosts").toString())
        .isEqualTo("[\"hooks.example.com\",\"*.example.org\"]");
    assertThat(keys.webhooks(project).orElseThrow().secret()).isEqualTo(first);

    // a second allow-list keeps the secret and does not show it
    HttpResponse<String> again =
        admin("PUT", "/" + project, "{\"allowedHosts\":[\"10.0.0.7\"]}", operator);
    assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
    assertThat(JSON.readTree(again.body()).get("secret").isNull()).isTrue();
    assertThat(keys.webhooks(project).orElseThrow().allowedHosts()).containsExactly("10.0.0.7");

    // rotation: a new secret, shown once; the previous one still signs for a while
    HttpResponse<String> rotated = admin("POST", "/" + project + "/rotate-secret", null, operator);
    assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
    String second = JSON.readTree(rotated.body()).get("secret").asText();
    assertThat(second).startsWith("whsec_").isNotEqualTo(first);
    assertThat(JSON.readTree(rotated.body()).get("webhooks").get("previousUntil").asText())
        .isNotBlank();
    assertThat(keys.webhooks(project).orElseThrow().signingSecrets(Instant.now()))
        .containsExactly(second, first);

    // the listing never shows a secret
    HttpResponse<String> list = admin("GET", "", null, operator);
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.body()).contains(project).doesNotContain(first).doesNotContain(second);

    // bad input: a clear 400, nothing changed
    assertRefused(
        admin("PUT", "/" + project, "{\"allowedHosts\":[\"not a host\"]}", operator),
        400,
        "INVALID_HOST");
    assertRefused(
        admin("PUT", "/" + project, "{\"allowedHosts\":\"x.example.com\"}", operator),
        400,
        "INVALID_FIELD");
    assertRefused(admin("PUT", "/" + project, "{\"hosts\":[]}", operator), 400, "INVALID_REQUEST");
    assertRefused(admin("PUT", "/" + project, "[", operator), 400, "INVALID_BODY");
    assertThat(keys.webhooks(project).orElseThrow().allowedHosts()).containsExactly("10.0.0.7");

    // a project's key may not touch webhook settings, its own neither
    String projectKey = TestKeys.project(keys, project);
    assertThat(admin("GET", "", null, projectKey).statusCode()).isEqualTo(403);
    assertThat(
            admin("PUT", "/" + project, "{\"allowedHosts\":[\"evil.example\"]}", projectKey)
                .statusCode())
        .isEqualTo(403);
    assertThat(admin("POST", "/" + project + "/rotate-secret", null, projectKey).statusCode())
        .isEqualTo(403);
    assertThat(keys.webhooks(project).orElseThrow().allowedHosts()).containsExactly("10.0.0.7");
  }

  @Test
  void aReceiverThatRefusesTheEventIsNotTriedAgain() throws Exception {
    receiver.stubFor(post(urlEqualTo("/gone")).willReturn(aResponse().withStatus(410)));
    WebhookDeliveryWorkflow delivery =
        client.newWorkflowStub(
            WebhookDeliveryWorkflow.class,
            WorkflowOptions.newBuilder()
                .setTaskQueue(WebhookDeliveryWorkflow.TASK_QUEUE)
                .setWorkflowId(WebhookDeliveryWorkflow.idFor("gen-webhook-api-gone"))
                .build());
    GenerationResult result =
        new GenerationResult(
            "gen-webhook-api-gone",
            GenerationStatus.CANCELLED,
            0.1,
            "caption",
            null,
            PROJECT,
            "n1",
            "standard",
            null,
            List.of(),
            null,
            null,
            null,
            null,
            null,
            null,
            null);
    WebhookDeliveryState state =
        delivery.deliver(
            WebhookEvent.ofGeneration(
                result,
                new Webhook("http://127.0.0.1:" + receiver.port() + "/gone", null),
                Instant.now().toString()));

    assertThat(state.status()).isEqualTo(WebhookDeliveryStatus.FAILED);
    assertThat(state.attempts()).hasSize(1);
    assertThat(state.reason()).contains("HTTP 410");
    assertThat(receiver.findAll(postRequestedFor(urlEqualTo("/gone")))).hasSize(1);
  }

  /** The README's verification, written out: HMAC-SHA256(secret, t + "." + body), hex. */
  static boolean verifiesAsDocumented(String header, byte[] body, String secret) throws Exception {
    String t = null;
    List<String> v1 = new java.util.ArrayList<>();
    for (String part : header.split(",")) {
      String[] kv = part.split("=", 2);
      if (kv[0].equals("t")) {
        t = kv[1];
      } else if (kv[0].equals("v1")) {
        v1.add(kv[1]);
      }
    }
    if (t == null || Math.abs(Instant.now().getEpochSecond() - Long.parseLong(t)) > 300) {
      return false;
    }
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    mac.update((t + ".").getBytes(StandardCharsets.UTF_8));
    String expected = HexFormat.of().formatHex(mac.doFinal(body));
    return v1.stream()
        .anyMatch(s ->
            java.security.MessageDigest.isEqual(
                s.getBytes(StandardCharsets.US_ASCII),
                expected.getBytes(StandardCharsets.US_ASCII)));
  }
}
