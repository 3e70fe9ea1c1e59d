package io.tempera.observability;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * {@code tempera.tracing.enabled} ({@code TEMPERA_TRACING_ENABLED}, default {@code false}): whether
 * the app traces with OpenTelemetry. Off, Spring Boot's OpenTelemetry SDK, Micrometer's tracing and
 * their exporters are not configured at all (no tracer, no span, no exporter); on, they are, with
 * Reactor's automatic context propagation so that the HTTP request's span is the current one where
 * the API starts the workflow ({@link TracingConfiguration} adds Temporal's interceptors).
 *
 * <p>Temporal's own OpenTracing auto-configuration is always left out: {@link TracingConfiguration}
 * registers the same interceptors, with the generation's attributes on their spans.
 */
public final class Tracing implements EnvironmentPostProcessor, Ordered {

  public static final String PROPERTY = "tempera.tracing.enabled";

  private static final String EXCLUDE = "spring.autoconfigure.exclude";

  /** Replaced by {@link TracingConfiguration}'s interceptors. */
  static final String TEMPORAL_OPENTRACING =
      "io.temporal.spring.boot.autoconfigure.OpenTracingAutoConfiguration";

  /** Spring Boot's OpenTelemetry and tracing configurations: none of them while tracing is off. */
  static final List<String> BOOT_TRACING =
      List.of(
          "org.springframework.boot.opentelemetry.autoconfigure.OpenTelemetrySdkAutoConfiguration",
          "org.springframework.boot.opentelemetry.autoconfigure.logging"
              + ".OpenTelemetryLoggingAutoConfiguration",
          "org.springframework.boot.opentelemetry.autoconfigure.logging.otlp"
              + ".OtlpLoggingAutoConfiguration",
          "org.springframework.boot.micrometer.tracing.autoconfigure"
              + ".MicrometerTracingAutoConfiguration",
          "org.springframework.boot.micrometer.tracing.autoconfigure.prometheus"
              + ".PrometheusExemplarsAutoConfiguration",
          "org.springframework.boot.micrometer.tracing.opentelemetry.autoconfigure"
              + ".OpenTelemetryTracingAutoConfiguration",
          "org.springframework.boot.micrometer.tracing.opentelemetry.autoconfigure.otlp"
              + ".OtlpTracingAutoConfiguration",
          "org.springframework.boot.micrometer.tracing.opentelemetry.autoconfigure.zipkin"
              + ".ZipkinWithOpenTelemetryTracingAutoConfiguration");

  /** Whether the environment turns tracing on; anything but true or false fails the start. */
  public static boolean enabled(ConfigurableEnvironment environment) {
    String value = environment.getProperty(PROPERTY, "false").trim();
    if (value.isEmpty() || value.equalsIgnoreCase("false")) {
      return false;
    }
    if (value.equalsIgnoreCase("true")) {
      return true;
    }
    throw new IllegalStateException(
        PROPERTY + " (TEMPERA_TRACING_ENABLED) is '" + value + "': it is true or false");
  }

  @Override
  public void postProcessEnvironment(
      ConfigurableEnvironment environment, SpringApplication application) {
    boolean on = enabled(environment);
    List<String> excluded =
        new ArrayList<>(
            Binder.get(environment).bind(EXCLUDE, Bindable.listOf(String.class)).orElse(List.of()));
    List<String> add = new ArrayList<>(List.of(TEMPORAL_OPENTRACING));
    if (!on) {
      add.addAll(BOOT_TRACING);
    }
    for (String name : add) {
      if (!excluded.contains(name)) {
        excluded.add(name);
      }
    }
    Map<String, Object> properties = new LinkedHashMap<>();
    properties.put(EXCLUDE, String.join(",", excluded));
    if (on && environment.getProperty("spring.reactor.context-propagation") == null) {
      // the request's span (an observation in Reactor's context) is current on the thread that
      // starts the workflow
      properties.put("spring.reactor.context-propagation", "auto");
    }
    environment.getPropertySources().addFirst(new MapPropertySource("tempera-tracing", properties));
  }

  /** After the config files are read (their {@code tempera.tracing.enabled}). */
  @Override
  public int getOrder() {
    return Ordered.LOWEST_PRECEDENCE;
  }
}
