package io.tempera.observability;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.opentracingshim.OpenTracingShim;
import io.tempera.slots.HostRegistration;
import io.temporal.opentracing.OpenTracingClientInterceptor;
import io.temporal.opentracing.OpenTracingOptions;
import io.temporal.opentracing.OpenTracingWorkerInterceptor;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

/**
 * Tracing, when {@code tempera.tracing.enabled} is true ({@link Tracing}): Temporal's OpenTracing
 * interceptors on the app's WorkflowClient and worker factory (the Temporal starter adds every
 * interceptor bean), writing to Spring Boot's OpenTelemetry SDK through the OpenTracing shim. The
 * trace goes from the API's HTTP request (Micrometer's observation) through StartWorkflow (its
 * context in the workflow's Temporal header), RunWorkflow, StartActivity and RunActivity to the
 * backends' HTTP calls (the worker passes the same OpenTelemetry to their clients). Temporal's
 * interceptors make no span while a workflow replays.
 *
 * <p>They are the innermost interceptors ({@link Ordered#HIGHEST_PRECEDENCE}: the Temporal SDK
 * wraps each interceptor around the ones before it), so the generation's log context is set when
 * their spans start ({@link GenerationSpans}).
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnBooleanProperty(Tracing.PROPERTY)
public class TracingConfiguration {

  @Bean
  public OpenTracingOptions temporalTracingOptions(
      OpenTelemetry openTelemetry, ObjectProvider<HostRegistration> host) {
    return OpenTracingOptions.newBuilder()
        .setTracer(OpenTracingShim.createTracerShim(openTelemetry))
        .setSpanBuilderProvider(
            new GenerationSpans(() -> {
              HostRegistration registration = host.getIfAvailable();
              return registration == null ? null : registration.hostId();
            }))
        .build();
  }

  /** StartWorkflow (and signal, query, update) spans in the API's and the workers' clients. */
  @Bean
  @Order(Ordered.HIGHEST_PRECEDENCE)
  public OpenTracingClientInterceptor temporalTracingClientInterceptor(
      OpenTracingOptions temporalTracingOptions) {
    return new OpenTracingClientInterceptor(temporalTracingOptions);
  }

  /** RunWorkflow, StartActivity and RunActivity spans on the workers. */
  @Bean
  @Order(Ordered.HIGHEST_PRECEDENCE)
  public OpenTracingWorkerInterceptor temporalTracingWorkerInterceptor(
      OpenTracingOptions temporalTracingOptions) {
    return new OpenTracingWorkerInterceptor(temporalTracingOptions);
  }
}
