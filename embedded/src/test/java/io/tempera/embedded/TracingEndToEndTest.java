package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.temporal.client.WorkflowClient;
import io.temporal.opentracing.OpenTracingClientInterceptor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Tracing on (tempera.tracing.enabled): one generation started through the real API of the embedded
 * system is one trace, kept by an in-memory exporter beside the app's own (the OTLP one is off
 * here): the API's HTTP request, Temporal's StartWorkflow under it, the workflow's run under that,
 * its activities under the run, and the testkit ComfyUI's HTTP calls under the backend activity,
 * each linked to its parent, with the generation's attributes.
 *
 * <p>Its context is closed after it: the tracing SDK stops, and the next test's application sets up
 * logging its own way again (Spring Boot leaves logging as the first open context set it).
 */
@DirtiesContext
@SpringBootTest(
    classes = {EmbeddedApplication.class, TracingEndToEndTest.Spans.class},
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.config.name=tempera-embedded",
      "tempera.embedded.comfyui-port=0",
      "tempera.tracing.enabled=true",
      "management.tracing.export.otlp.enabled=false",
      "management.opentelemetry.tracing.export.schedule-delay=100ms"
    })
class TracingEndToEndTest {

  static final Path ROOT = EmbeddedTestRoot.create("tempera-tracing");
  static final ObjectMapper JSON = new ObjectMapper();

  static final AttributeKey<String> WORKFLOW_ID = AttributeKey.stringKey("workflowId");
  static final AttributeKey<String> GENERATION = AttributeKey.stringKey("tempera.generation.id");
  static final AttributeKey<String> PROJECT = AttributeKey.stringKey("tempera.project.id");
  static final AttributeKey<String> FUNCTION = AttributeKey.stringKey("tempera.function.id");
  static final AttributeKey<String> TIER = AttributeKey.stringKey("tempera.tier");
  static final AttributeKey<String> HOST = AttributeKey.stringKey("tempera.host.id");
  static final AttributeKey<String> ATTEMPT = AttributeKey.stringKey("tempera.attempt");
  static final AttributeKey<String> BACKEND = AttributeKey.stringKey("tempera.backend");
  static final AttributeKey<String> METHOD = AttributeKey.stringKey("http.request.method");
  static final AttributeKey<String> URL = AttributeKey.stringKey("url.full");
  static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");

  @TestConfiguration(proxyBeanMethods = false)
  static class Spans {
    /** Spring Boot adds every SpanExporter bean to its span processor. */
    @Bean
    InMemorySpanExporter inMemorySpanExporter() {
      return InMemorySpanExporter.create();
    }
  }

  @Autowired InMemorySpanExporter exported;
  @Autowired WorkflowClient client;

  @LocalServerPort int port;

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    EmbeddedTestRoot.register(registry, ROOT);
  }

  @Test
  void aGenerationIsOneTraceFromTheRequestToTheBackendsHttpCalls() throws Exception {
    String project = "project-traced";
    String image =
        EmbeddedTestRoot.uploadSample(
            ROOT, http, uri("/api/projects/" + project + "/uploads"), "application/octet-stream");
    HttpResponse<String> started =
        post(
            "/api/generations",
            Map.of(
                "functionId",
                "invert",
                "tier",
                "standard",
                "projectId",
                project,
                "nodeId",
                "node-1",
                "requestId",
                "trace-" + UUID.randomUUID(),
                "parameters",
                Map.of("image", image)));
    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
    String id = JSON.readTree(started.body()).get("id").asText();
    assertThat(lastEvent(id)).isEqualTo("succeeded");

    // the spans arrive as the batch processor exports them
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(() ->
            assertThat(backendCalls(trace(id)))
                .anyMatch(s -> "POST".equals(s.getAttributes().get(METHOD)))
                .anyMatch(s -> "GET".equals(s.getAttributes().get(METHOD))));
    List<SpanData> trace = trace(id);
    java.nio.file.Files.writeString(
        Path.of("target", "tracing-spans.txt"),
        trace.stream().map(SpanData::toString).collect(Collectors.joining("\n")));
    Map<String, SpanData> byId =
        trace.stream().collect(Collectors.toMap(SpanData::getSpanId, Function.identity()));

    SpanData start = one(trace, "StartWorkflow:GenerationWorkflow");
    SpanData request =
        trace.stream()
            .filter(s -> s.getKind() == SpanKind.SERVER)
            .filter(s -> s.getName().toUpperCase(java.util.Locale.ROOT).contains("POST"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no HTTP request span in " + names(trace)));
    assertThat(request.getParentSpanContext().isValid())
        .as("the request's span is the root")
        .isFalse();
    assertThat(ancestors(start, byId)).as("StartWorkflow is under the request").contains(request);
    assertThat(start.getAttributes().get(WORKFLOW_ID)).isEqualTo(id);
    assertThat(start.getAttributes().get(GENERATION)).isEqualTo(id);
    assertThat(start.getAttributes().get(PROJECT)).isEqualTo(project);

    // the workflow's runs: the one that scheduled the activities, and one more for each replay of
    // it on the worker (Temporal's interceptor makes no activity spans while replaying)
    List<SpanData> runs =
        trace.stream().filter(s -> s.getName().equals("RunWorkflow:GenerationWorkflow")).toList();
    assertThat(runs)
        .isNotEmpty()
        .allSatisfy(run -> {
          assertThat(run.getParentSpanId())
              .as("a run is the start's child")
              .isEqualTo(start.getSpanId());
          assertThat(run.getAttributes().get(GENERATION)).isEqualTo(id);
          assertThat(run.getAttributes().get(PROJECT)).isEqualTo(project);
          assertThat(run.getAttributes().get(FUNCTION)).isEqualTo("invert");
          assertThat(run.getAttributes().get(TIER)).isEqualTo("standard");
          assertThat(run.getAttributes().get(HOST)).isNotBlank();
        });

    SpanData onBackend = one(trace, "RunActivity:RunOnBackend");
    SpanData scheduled = byId.get(onBackend.getParentSpanId());
    assertThat(scheduled).isNotNull();
    assertThat(scheduled.getName()).isEqualTo("StartActivity:RunOnBackend");
    SpanData run = byId.get(scheduled.getParentSpanId());
    assertThat(runs).as("the activity was scheduled by a run of the workflow").contains(run);
    assertThat(onBackend.getAttributes().get(GENERATION)).isEqualTo(id);
    assertThat(onBackend.getAttributes().get(ATTEMPT)).isEqualTo("1");
    assertThat(onBackend.getAttributes().get(HOST)).isNotBlank();
    // every activity of the generation is in its trace, under the run
    assertThat(trace.stream().filter(s -> s.getName().startsWith("RunActivity:")))
        .hasSizeGreaterThan(1)
        .allSatisfy(a -> assertThat(ancestors(a, byId)).contains(run));

    List<SpanData> calls = backendCalls(trace);
    assertThat(calls)
        .as("the testkit ComfyUI's calls")
        .allSatisfy(call -> {
          assertThat(call.getKind()).isEqualTo(SpanKind.CLIENT);
          assertThat(ancestors(call, byId)).contains(run);
          assertThat(call.getAttributes().get(BACKEND)).isEqualTo("comfyui");
          assertThat(call.getAttributes().get(GENERATION)).isEqualTo(id);
          assertThat(call.getAttributes().get(URL)).startsWith("http://");
          assertThat(call.getAttributes().get(STATUS)).isNotNull();
        })
        .anySatisfy(call -> {
          assertThat(call.getName()).isEqualTo("POST /prompt");
          assertThat(call.getParentSpanId()).isEqualTo(onBackend.getSpanId());
          assertThat(call.getAttributes().get(STATUS)).isEqualTo(200L);
        });
  }

  @Test
  void temporalsInterceptorIsOnTheClientOnce() {
    assertThat(
            Arrays.stream(client.getOptions().getInterceptors())
                .filter(i -> i instanceof OpenTracingClientInterceptor))
        .hasSize(1);
  }

  // --- helpers ---

  /** The spans of the trace whose StartWorkflow started this generation. */
  private List<SpanData> trace(String id) {
    List<SpanData> all = exported.getFinishedSpanItems();
    String traceId =
        all.stream()
            .filter(s -> s.getName().startsWith("StartWorkflow:"))
            .filter(s -> id.equals(s.getAttributes().get(WORKFLOW_ID)))
            .map(SpanData::getTraceId)
            .findFirst()
            .orElseThrow(() -> new AssertionError("no StartWorkflow span of " + id));
    return all.stream().filter(s -> s.getTraceId().equals(traceId)).toList();
  }

  private static List<SpanData> backendCalls(List<SpanData> trace) {
    return trace.stream().filter(s -> s.getAttributes().get(BACKEND) != null).toList();
  }

  private static SpanData one(List<SpanData> trace, String name) {
    List<SpanData> named = trace.stream().filter(s -> s.getName().equals(name)).toList();
    assertThat(named).as("%s in %s", name, names(trace)).hasSize(1);
    return named.get(0);
  }

  /** The span's parent, its parent's parent, … within the trace. */
  private static List<SpanData> ancestors(SpanData span, Map<String, SpanData> byId) {
    List<SpanData> ancestors = new ArrayList<>();
    SpanData parent = byId.get(span.getParentSpanId());
    while (parent != null && !ancestors.contains(parent)) {
      ancestors.add(parent);
      parent = byId.get(parent.getParentSpanId());
    }
    return ancestors;
  }

  private static List<String> names(List<SpanData> trace) {
    return trace.stream().map(SpanData::getName).toList();
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

  private HttpResponse<String> post(String path, Object body) throws Exception {
    return http.send(
        EmbeddedTestRoot.request(ROOT, uri(path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
