package io.tempera.observability;

import io.micrometer.core.instrument.MeterRegistry;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowClientOptions;
import io.temporal.spring.boot.TemporalOptionsCustomizer;
import java.time.Duration;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/**
 * What the API and the workers share for on-call: the generation's log context carried through
 * Temporal headers, the readiness checks of Temporal and the progress bus, and the count of open
 * streams and sockets; and, when {@code tempera.tracing.enabled}, tracing ({@link
 * TracingConfiguration}).
 */
@Configuration(proxyBeanMethods = false)
@Import(TracingConfiguration.class)
public class ObservabilityConfiguration {

  /** The generation's ids from the API into its workflow and activities (MDC, via headers). */
  @Bean
  public TemporalOptionsCustomizer<WorkflowClientOptions.Builder> generationLogContext() {
    return options -> options.setContextPropagators(List.of(new GenerationLogContext()));
  }

  @Bean
  public GenerationLogClientInterceptor generationLogClientInterceptor() {
    return new GenerationLogClientInterceptor();
  }

  /** {@code temporal}: UP while the Temporal server answers (readiness). */
  @Bean
  public TemporalHealth temporalHealthIndicator(ObjectProvider<WorkflowClient> client) {
    return new TemporalHealth(
        () -> client.getObject().getWorkflowServiceStubs(), Duration.ofSeconds(3));
  }

  /** {@code progressBus}: UP while Redis answers, when configured (readiness). */
  @Bean(destroyMethod = "close")
  public ProgressBusHealth progressBusHealthIndicator(
      @Value("${tempera.progress.redis-url:}") String redisUrl) {
    return new ProgressBusHealth(redisUrl, Duration.ofSeconds(2));
  }

  @Bean
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
  public OpenConnections openConnections(MeterRegistry registry) {
    return new OpenConnections(registry);
  }
}
