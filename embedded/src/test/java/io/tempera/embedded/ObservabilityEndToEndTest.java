package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * What on-call sees of the embedded system: the meters of a generation in {@code
 * /actuator/prometheus} (with the Temporal SDK's), the Grafana dashboard and the Prometheus rules
 * under {@code deploy/observability/} naming only meters it exports, open streams counted,
 * readiness with its checks, JSON log lines carrying the generation's ids; and no tracing unless it
 * is turned on (TracingEndToEndTest).
 */
@SpringBootTest(
    classes = EmbeddedApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.log-format=json",
      "logging.level.io.tempera.observability=DEBUG"
    })
@ExtendWith(OutputCaptureExtension.class)
class ObservabilityEndToEndTest {

  static final Path ROOT =
      EmbeddedTestRoot.create(
          "tempera-observability", EmbeddedTestRoot.activitiesTemplate("slow-invert"));
  static final ObjectMapper JSON = new ObjectMapper();

  /** deploy/observability/, from the embedded module's folder (where its tests run). */
  static final Path DEPLOY = Path.of("..", "deploy", "observability");

  /**
   * A metric name in a PromQL expression: the apps' own, the Temporal SDK's, Spring's, the JVM's.
   */
  static final Pattern METRIC =
      Pattern.compile(
          "\\b((?:tempera|temporal|http_server|jvm|process|system|reactor_netty)_[a-z0-9_]+)");

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @LocalServerPort int port;

  @org.springframework.beans.factory.annotation.Autowired
  org.springframework.context.ApplicationContext context;

  @org.springframework.beans.factory.annotation.Autowired io.temporal.client.WorkflowClient client;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aGenerationIsMeteredAndTheDashboardAndAlertRulesNameOnlyExportedMetrics(
      CapturedOutput output) throws Exception {
    String project = "project-metrics";
    String id = generate(project, "invert", Map.of("image", upload(project)));
    assertThat(lastEvent(id)).isEqualTo("succeeded");

    String scrape = scrape();
    Files.writeString(Path.of("target", "observability-scrape.txt"), scrape);
    assertThat(series(scrape, "tempera_generations_total"))
        .anySatisfy(s ->
            assertThat(s)
                .contains("function=\"invert\"")
                .contains("tier=\"standard\"")
                .contains("backend=\"comfyui\"")
                .contains("outcome=\"succeeded\"")
                .contains("error=\"none\""));
    for (String phase : List.of("slot_wait", "backend_queue", "execution", "collection")) {
      assertThat(series(scrape, "tempera_generation_phase_seconds_count"))
          .as("phase %s", phase)
          .anyMatch(s -> s.contains("phase=\"" + phase + "\""));
    }
    assertThat(names(scrape))
        .contains(
            "tempera_generation_duration_seconds_bucket",
            "tempera_host_slots",
            "tempera_host_slots_busy",
            "tempera_host_vram_leased_mb",
            "tempera_pool_waiting",
            "tempera_connections_open",
            "tempera_sse_events_sent_total",
            "tempera_progress_events_published_total",
            "tempera_progress_events_received_total",
            "tempera_backend_runs_seconds_count")
        .anyMatch(n -> n.startsWith("temporal_"));

    // the generation's events: published by the worker, handed to the API's follower, sent
    assertThat(sum(scrape, "tempera_progress_events_published_total")).isGreaterThan(0);
    assertThat(sum(scrape, "tempera_progress_events_received_total")).isGreaterThan(0);
    assertThat(sum(scrape, "tempera_sse_events_sent_total")).isGreaterThan(0);

    // every metric the dashboard and the alert rules query is one this system exports: here, or
    // (meters of failures, fallbacks and model containers, which this run has none of) by the same
    // production code on a registry of the test's own
    Set<String> referenced = new TreeSet<>();
    referenced.addAll(
        referencedMetrics(Files.readString(DEPLOY.resolve("grafana-dashboard.json"))));
    referenced.addAll(referencedMetrics(Files.readString(DEPLOY.resolve("prometheus-rules.yml"))));
    assertThat(referenced).hasSizeGreaterThan(20);
    Set<String> onlyAfterFailures = names(meteredFailuresFallbacksAndContainers());
    Set<String> live = new TreeSet<>();
    // the Temporal SDK reports its counters every 10 s
    await()
        .atMost(Duration.ofSeconds(40))
        .untilAsserted(() -> {
          live.clear();
          live.addAll(names(scrape()));
          assertThat(live).contains("temporal_request_total");
        });
    Set<String> notLive = new TreeSet<>(referenced);
    notLive.removeAll(live);
    assertThat(notLive)
        .as("queried by the dashboard or the rules, exported by neither the system nor the code")
        .isSubsetOf(onlyAfterFailures);

    // JSON log lines of the generation, on the workflow's thread and an activity's, with its ids
    List<JsonNode> lines = jsonLines(output, id);
    assertThat(lines)
        .as("log lines of %s", id)
        .anySatisfy(line -> {
          // the API's, as it starts the generation
          assertThat(line.path("message").asText()).contains(id + " started");
          assertThat(line.path("generationId").asText()).isEqualTo(id);
          assertThat(line.path("projectId").asText()).isEqualTo(project);
          assertThat(line.path("functionId").asText()).isEqualTo("invert");
          assertThat(line.path("tier").asText()).isEqualTo("standard");
        })
        .anySatisfy(line -> {
          assertThat(line.path("message").asText()).contains("succeeded");
          assertIds(line, id, project);
        })
        .anySatisfy(line -> {
          assertThat(line.path("message").asText()).contains("RunOnBackend attempt 1 starts");
          assertIds(line, id, project);
          assertThat(line.path("Attempt").asText()).isEqualTo("1");
        });
  }

  @Test
  void openEventStreamsAreCountedUntilTheyEnd() throws Exception {
    String project = "project-streams";
    String id = generate(project, "slow-invert", Map.of("image", upload(project), "steps", 400));
    HttpResponse<java.io.InputStream> stream =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    try (BufferedReader events =
        new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      assertThat(events.readLine()).isNotNull(); // the stream is open and talking
      await().atMost(Duration.ofSeconds(20)).until(() -> openStreams() >= 1);

      HttpResponse<String> cancelled = post("/api/generations/" + id + "/cancel", Map.of());
      assertThat(cancelled.statusCode()).isLessThan(300);
      while (events.readLine() != null) {
        // read to the stream's end: the generation's end closes it
      }
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> openStreams() == 0);
  }

  @Test
  void openCanvasSocketsAreCountedUntilTheyClose() throws Exception {
    java.util.concurrent.BlockingQueue<JsonNode> received =
        new java.util.concurrent.LinkedBlockingQueue<>();
    java.net.http.WebSocket socket =
        http.newWebSocketBuilder()
            .buildAsync(
                URI.create("ws://127.0.0.1:" + port + "/ws"),
                new java.net.http.WebSocket.Listener() {
                  private final StringBuilder text = new StringBuilder();

                  @Override
                  public java.util.concurrent.CompletionStage<?> onText(
                      java.net.http.WebSocket ws, CharSequence data, boolean last) {
                    text.append(data);
                    if (last) {
                      try {
                        received.add(JSON.readTree(text.toString()));
                      } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                      }
                      text.setLength(0);
                    }
                    ws.request(1);
                    return null;
                  }
                })
            .get(10, java.util.concurrent.TimeUnit.SECONDS);
    EmbeddedTestRoot.authenticate(ROOT, socket, received);
    await().atMost(Duration.ofSeconds(20)).until(() -> openSockets() == 1);

    socket
        .sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "done")
        .get(10, java.util.concurrent.TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(20)).until(() -> openSockets() == 0);
  }

  @Test
  void tracingIsOffByDefault() {
    // no OpenTelemetry SDK, no exporter, no span processor, no Micrometer tracer that records
    for (Class<?> type :
        List.of(
            io.opentelemetry.api.OpenTelemetry.class,
            io.opentelemetry.sdk.trace.SdkTracerProvider.class,
            io.opentelemetry.sdk.trace.export.SpanExporter.class,
            io.opentelemetry.sdk.trace.SpanProcessor.class,
            io.opentracing.Tracer.class,
            io.temporal.opentracing.OpenTracingOptions.class)) {
      assertThat(context.getBeanNamesForType(type)).as("beans of %s", type.getName()).isEmpty();
    }
    assertThat(context.getBeansOfType(io.micrometer.tracing.Tracer.class).values())
        .allMatch(tracer -> tracer == io.micrometer.tracing.Tracer.NOOP);
    // metrics go to Prometheus only (no OTLP push)
    assertThat(context.getBeansOfType(io.micrometer.core.instrument.MeterRegistry.class).values())
        .noneMatch(registry -> registry.getClass().getName().contains("Otlp"));
    // nor Temporal's tracing interceptors on the client or the workers
    assertThat(client.getOptions().getInterceptors())
        .noneMatch(i -> i instanceof io.temporal.opentracing.OpenTracingClientInterceptor);
    assertThat(context.getBeansOfType(io.temporal.common.interceptors.WorkerInterceptor.class))
        .isNotEmpty()
        .allSatisfy((name, interceptor) ->
            assertThat(interceptor)
                .isNotInstanceOf(io.temporal.opentracing.OpenTracingWorkerInterceptor.class));
  }

  @Test
  void readinessIsUpWithTemporalTheProgressBusAndDocker() throws Exception {
    HttpResponse<String> readiness = get("/actuator/health/readiness");
    assertThat(readiness.statusCode()).isEqualTo(200);
    JsonNode health = JSON.readTree(readiness.body());
    assertThat(health.get("status").asText()).isEqualTo("UP");
    // an operator key sees which checks it is made of
    assertThat(health.path("components").has("temporal")).isTrue();
    assertThat(health.path("components").has("progressBus")).isTrue();
    assertThat(health.path("components").has("docker")).isTrue();
  }

  // --- helpers ---

  /**
   * The exposition of the meters the embedded run records none of, recorded by their production
   * code: a failed and a retried activity attempt, a fallback, a Docker host's model containers.
   */
  private static String meteredFailuresFallbacksAndContainers() {
    io.micrometer.prometheusmetrics.PrometheusMeterRegistry registry =
        new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
            io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
    io.tempera.observability.GenerationMeters.activityFailed(
        registry, "RunOnBackend", "BACKEND_FAULT");
    io.tempera.observability.GenerationMeters.activityRetried(registry, "RunOnBackend");
    io.tempera.observability.GenerationMeters.fellBack(registry, "tier", "high", "standard");
    io.tempera.containers.ModelHostMeters.register(registry);
    return registry.scrape();
  }

  private static void assertIds(JsonNode line, String id, String project) {
    assertThat(line.path("generationId").asText()).isEqualTo(id);
    assertThat(line.path("WorkflowId").asText()).isEqualTo(id);
    assertThat(line.path("projectId").asText()).isEqualTo(project);
    assertThat(line.path("functionId").asText()).isEqualTo("invert");
    assertThat(line.path("tier").asText()).isEqualTo("standard");
  }

  /** The captured lines that are JSON objects and name the generation, parsed. */
  private static List<JsonNode> jsonLines(CapturedOutput output, String id) {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : output.getOut().split("\n")) {
      if (line.startsWith("{") && line.contains(id)) {
        try {
          lines.add(JSON.readTree(line));
        } catch (java.io.IOException notJson) {
          // a line cut by another thread's output: not one to check
        }
      }
    }
    return lines;
  }

  private double openSockets() throws Exception {
    return series(scrape(), "tempera_connections_open").stream()
        .filter(s -> s.contains("kind=\"websocket\""))
        .mapToDouble(s -> Double.parseDouble(s.substring(s.lastIndexOf(' ') + 1)))
        .sum();
  }

  private double openStreams() throws Exception {
    return series(scrape(), "tempera_connections_open").stream()
        .filter(s -> s.contains("kind=\"sse\""))
        .mapToDouble(s -> Double.parseDouble(s.substring(s.lastIndexOf(' ') + 1)))
        .sum();
  }

  static Set<String> referencedMetrics(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(text);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** The metric names of an exposition (without labels). */
  static Set<String> names(String scrape) {
    Set<String> names = new TreeSet<>();
    for (String line : scrape.split("\n")) {
      if (!line.isBlank() && !line.startsWith("#")) {
        names.add(line.split("[{ ]", 2)[0]);
      }
    }
    return names;
  }

  /** The sum of one metric's samples. */
  static double sum(String scrape, String name) {
    return series(scrape, name).stream()
        .mapToDouble(s -> Double.parseDouble(s.substring(s.lastIndexOf(' ') + 1)))
        .sum();
  }

  /** The sample lines of one metric. */
  static List<String> series(String scrape, String name) {
    List<String> lines = new ArrayList<>();
    for (String line : scrape.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        lines.add(line);
      }
    }
    return lines;
  }

  private String scrape() throws Exception {
    HttpResponse<String> response = get("/actuator/prometheus");
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  private String generate(String project, String function, Map<String, Object> parameters)
      throws Exception {
    HttpResponse<String> started =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                function,
                "tier",
                "standard",
                "projectId",
                project,
                "nodeId",
                "node-1",
                "requestId",
                "obs-" + UUID.randomUUID(),
                "parameters",
                parameters));
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    return JSON.readTree(started.body()).get("id").asText();
  }

  /** Follows the generation's events to the end of the stream; the last event's name. */
  private String lastEvent(String id) throws Exception {
    HttpResponse<java.io.InputStream> response =
        http.send(
            EmbeddedTestRoot.request(ROOT, uri("/api/generations/" + id + "/events"))
                .header("accept", "text/event-stream")
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    String last = null;
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.startsWith("event:")) {
          last = line.substring(6).trim();
        }
      }
    }
    return last;
  }

  private String upload(String project) throws Exception {
    return EmbeddedTestRoot.uploadSample(
        ROOT, http, uri("/api/projects/" + project + "/uploads"), "application/octet-stream");
  }

  private HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
