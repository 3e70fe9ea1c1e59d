package io.tempera.backend;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.regex.Pattern;
import org.slf4j.MDC;

/**
 * Spans of the backends' HTTP calls: one CLIENT span per request made while a traced activity runs
 * (its span is the current one: a call outside a trace, such as a health check, makes none), named
 * "{method} {route}", with OpenTelemetry's HTTP attributes ({@code http.request.method}, {@code
 * url.full}, {@code server.address}, {@code server.port}, {@code http.response.status_code}, {@code
 * error.type}), the backend ({@code tempera.backend}) and the generation's id; the trace context
 * goes to the backend in the request's headers (W3C {@code traceparent}). {@link #NONE} (the
 * default) makes no span and costs nothing.
 */
public final class BackendTracing {

  /** No tracing: requests go out as they are. */
  public static final BackendTracing NONE = new BackendTracing(null, null);

  static final AttributeKey<String> METHOD = AttributeKey.stringKey("http.request.method");
  static final AttributeKey<String> URL = AttributeKey.stringKey("url.full");
  static final AttributeKey<String> SERVER = AttributeKey.stringKey("server.address");
  static final AttributeKey<Long> PORT = AttributeKey.longKey("server.port");
  static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
  static final AttributeKey<String> ERROR = AttributeKey.stringKey("error.type");
  static final AttributeKey<String> BACKEND = AttributeKey.stringKey("tempera.backend");
  static final AttributeKey<String> GENERATION = AttributeKey.stringKey("tempera.generation.id");

  /** A path segment that names one thing (a prompt id, a file): not part of the span's name. */
  private static final Pattern ID_SEGMENT = Pattern.compile(".*[0-9=.].*|.{33,}");

  private final Tracer tracer;
  private final TextMapPropagator propagator;

  private BackendTracing(Tracer tracer, TextMapPropagator propagator) {
    this.tracer = tracer;
    this.propagator = propagator;
  }

  /** Traces with the app's OpenTelemetry. */
  public static BackendTracing of(OpenTelemetry openTelemetry) {
    return new BackendTracing(
        openTelemetry.getTracer("io.tempera.backend"),
        openTelemetry.getPropagators().getTextMapPropagator());
  }

  /** One HTTP exchange, as the client's own error when it fails below HTTP. */
  @FunctionalInterface
  interface Exchange<T> {
    HttpResponse<T> send(HttpRequest request) throws IOException, InterruptedException;
  }

  <T> HttpResponse<T> call(String backend, HttpRequest request, Exchange<T> exchange)
      throws IOException, InterruptedException {
    if (tracer == null || !Span.current().getSpanContext().isValid()) {
      return exchange.send(request);
    }
    URI uri = request.uri();
    var builder =
        tracer
            .spanBuilder(request.method() + " " + route(uri.getPath()))
            .setSpanKind(SpanKind.CLIENT)
            .setAttribute(METHOD, request.method())
            .setAttribute(URL, uri.toString())
            .setAttribute(BACKEND, backend);
    if (uri.getHost() != null) {
      builder.setAttribute(SERVER, uri.getHost());
    }
    if (uri.getPort() > 0) {
      builder.setAttribute(PORT, (long) uri.getPort());
    }
    String generation = MDC.get("generationId");
    if (generation != null) {
      builder.setAttribute(GENERATION, generation);
    }
    Span span = builder.startSpan();
    try (Scope scope = span.makeCurrent()) {
      HttpRequest.Builder traced = HttpRequest.newBuilder(request, (name, value) -> true);
      propagator.inject(Context.current(), traced, HttpRequest.Builder::setHeader);
      HttpResponse<T> response = exchange.send(traced.build());
      int status = response.statusCode();
      span.setAttribute(STATUS, (long) status);
      if (status >= 400) {
        span.setAttribute(ERROR, Integer.toString(status));
        span.setStatus(StatusCode.ERROR);
      }
      return response;
    } catch (IOException | InterruptedException | RuntimeException e) {
      span.setAttribute(ERROR, e.getClass().getName());
      span.setStatus(StatusCode.ERROR, e.getMessage() == null ? "" : e.getMessage());
      throw e;
    } finally {
      span.end();
    }
  }

  /** The path with its segments that name one thing as {id}: /history/{id}, /view. */
  static String route(String path) {
    if (path == null || path.isEmpty()) {
      return "/";
    }
    StringBuilder route = new StringBuilder();
    for (String segment : path.split("/")) {
      if (!segment.isEmpty()) {
        route.append('/').append(ID_SEGMENT.matcher(segment).matches() ? "{id}" : segment);
      }
    }
    return route.isEmpty() ? "/" : route.toString();
  }

  @Override
  public String toString() {
    return tracer == null ? "BackendTracing[off]" : "BackendTracing[on]";
  }
}
