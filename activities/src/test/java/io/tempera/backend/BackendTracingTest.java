package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The backend clients' HTTP calls as spans: a child of the activity's span with OpenTelemetry's
 * HTTP attributes and the trace context sent along; none outside a trace or with tracing off.
 */
class BackendTracingTest {

  final InMemorySpanExporter exported = InMemorySpanExporter.create();
  final OpenTelemetrySdk otel =
      OpenTelemetrySdk.builder()
          .setTracerProvider(
              SdkTracerProvider.builder()
                  .addSpanProcessor(SimpleSpanProcessor.create(exported))
                  .build())
          .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
          .build();
  final List<String> traceparents = new CopyOnWriteArrayList<>();
  final HttpClient http = HttpClient.newHttpClient();
  HttpServer server;
  URI base;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          String header = exchange.getRequestHeaders().getFirst("traceparent");
          traceparents.add(header == null ? "none" : header);
          int status = exchange.getRequestURI().getPath().startsWith("/broken") ? 500 : 200;
          byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(status, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    base = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  @AfterEach
  void stop() {
    server.stop(0);
    http.close();
    otel.close();
    MDC.clear();
  }

  BackendHttp<BackendHttpTest.TestException> calls(BackendTracing tracing) {
    return new BackendHttp<>(
        http, base, Duration.ofSeconds(5), BackendHttpTest.TestException::new, "comfyui", tracing);
  }

  @Test
  void aCallInATraceIsAClientSpanUnderTheCurrentOneAndSendsItsContext() {
    BackendHttp<BackendHttpTest.TestException> calls = calls(BackendTracing.of(otel));
    Span activity = otel.getTracer("test").spanBuilder("RunActivity:RunOnBackend").startSpan();
    MDC.put("generationId", "gen-1");
    try (Scope scope = activity.makeCurrent()) {
      assertThat(calls.send(calls.post("/prompt", "{}")).statusCode()).isEqualTo(200);
      assertThat(
              calls.send(calls.get("/history/3f2a9c1e-77d1-4b0e-9d55-1a2b3c4d5e6f")).statusCode())
          .isEqualTo(200);
      assertThat(calls.send(calls.get("/broken/view?filename=a.png")).statusCode()).isEqualTo(500);
    } finally {
      activity.end();
    }

    List<SpanData> spans =
        exported.getFinishedSpanItems().stream()
            .filter(s -> s.getKind() == SpanKind.CLIENT)
            .toList();
    assertThat(spans)
        .extracting(SpanData::getName)
        .containsExactly("POST /prompt", "GET /history/{id}", "GET /broken/view");
    SpanData prompt = spans.get(0);
    assertThat(prompt.getParentSpanId()).isEqualTo(activity.getSpanContext().getSpanId());
    assertThat(prompt.getTraceId()).isEqualTo(activity.getSpanContext().getTraceId());
    assertThat(prompt.getAttributes().get(BackendTracing.METHOD)).isEqualTo("POST");
    assertThat(prompt.getAttributes().get(BackendTracing.URL)).isEqualTo(base + "/prompt");
    assertThat(prompt.getAttributes().get(BackendTracing.SERVER)).isEqualTo("127.0.0.1");
    assertThat(prompt.getAttributes().get(BackendTracing.PORT)).isEqualTo((long) base.getPort());
    assertThat(prompt.getAttributes().get(BackendTracing.STATUS)).isEqualTo(200L);
    assertThat(prompt.getAttributes().get(BackendTracing.BACKEND)).isEqualTo("comfyui");
    assertThat(prompt.getAttributes().get(BackendTracing.GENERATION)).isEqualTo("gen-1");
    assertThat(prompt.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    SpanData broken = spans.get(2);
    assertThat(broken.getAttributes().get(BackendTracing.STATUS)).isEqualTo(500L);
    assertThat(broken.getAttributes().get(BackendTracing.ERROR)).isEqualTo("500");
    assertThat(broken.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);

    // the backend got each call's own span as the parent in its traceparent header
    assertThat(traceparents)
        .hasSize(3)
        .allSatisfy(h -> assertThat(h).startsWith("00-" + activity.getSpanContext().getTraceId()));
    assertThat(traceparents.get(0)).contains("-" + prompt.getSpanId() + "-");
  }

  @Test
  void aCallThatFailsBelowHttpIsAnErrorSpanAndTheClientsOwnError() {
    server.stop(0);
    BackendHttp<BackendHttpTest.TestException> calls = calls(BackendTracing.of(otel));
    Span activity = otel.getTracer("test").spanBuilder("RunActivity:RunOnBackend").startSpan();
    try (Scope scope = activity.makeCurrent()) {
      assertThatThrownBy(() -> calls.send(calls.get("/queue")))
          .isInstanceOfSatisfying(
              BackendHttpTest.TestException.class,
              e -> assertThat(e.kind()).isEqualTo(BackendFault.UNREACHABLE));
    } finally {
      activity.end();
    }
    SpanData queue =
        exported.getFinishedSpanItems().stream()
            .filter(s -> s.getName().equals("GET /queue"))
            .findFirst()
            .orElseThrow();
    assertThat(queue.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(queue.getAttributes().get(BackendTracing.ERROR))
        .isEqualTo("java.net.ConnectException");
    assertThat(queue.getAttributes().get(BackendTracing.STATUS)).isNull();
  }

  @Test
  void noSpanOutsideATraceNorWithTracingOff() {
    // a health check: no activity's span is current
    BackendHttp<BackendHttpTest.TestException> traced = calls(BackendTracing.of(otel));
    assertThat(traced.send(traced.get("/queue")).statusCode()).isEqualTo(200);
    // tracing off, inside a trace
    BackendHttp<BackendHttpTest.TestException> off = calls(BackendTracing.NONE);
    Span activity = otel.getTracer("test").spanBuilder("RunActivity:RunOnBackend").startSpan();
    try (Scope scope = activity.makeCurrent()) {
      assertThat(off.send(off.get("/queue")).statusCode()).isEqualTo(200);
    } finally {
      activity.end();
    }
    assertThat(exported.getFinishedSpanItems())
        .extracting(SpanData::getName)
        .containsExactly("RunActivity:RunOnBackend");
    assertThat(traceparents).containsExactly("none", "none");
  }

  @Test
  void aRouteNamesNoSingleThing() {
    assertThat(BackendTracing.route("/prompt")).isEqualTo("/prompt");
    assertThat(BackendTracing.route("/history/3f2a9c1e-77d1")).isEqualTo("/history/{id}");
    assertThat(BackendTracing.route("/gradio_api/queue/data")).isEqualTo("/gradio_api/queue/data");
    assertThat(BackendTracing.route("/gradio_api/file=/tmp/gradio/x.png"))
        .isEqualTo("/gradio_api/{id}/tmp/gradio/{id}");
    assertThat(BackendTracing.route("/upload/image")).isEqualTo("/upload/image");
    assertThat(BackendTracing.route("")).isEqualTo("/");
  }
}
