package io.tempera.api.webhooks;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.api.GenerationService;
import io.tempera.security.ApiKeyStore;
import io.tempera.webhooks.WebhookDeliveryWorkflow;
import io.tempera.webhooks.WebhookEvent;
import io.temporal.client.WorkflowClient;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Webhooks on the API's processes: the checks of a submitted webhook, and the deliveries — the API
 * serves {@link WebhookDeliveryWorkflow#TASK_QUEUE} (the delivery workflow and its activity), since
 * it holds the projects' allow-lists and signing secrets and signs the output URLs an event
 * carries. Every API process serves it; a delivery waits in the queue while none runs.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(WebhookProperties.class)
public class WebhookConfiguration {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Bean
  public WebhookRules webhookRules(ApiKeyStore keys, WebhookProperties properties) {
    return new WebhookRules(keys, properties);
  }

  @Bean
  public Webhooks webhooks(WebhookRules rules, WorkflowClient client) {
    return new Webhooks(rules, client);
  }

  /**
   * Delivery attempts; an event's body is {@code {id, type, createdAt, projectId, generation}}, the
   * generation as its REST state shows it (signed output URLs included).
   */
  @Bean(destroyMethod = "close")
  public WebhookActivitiesImpl webhookActivities(
      WebhookRules rules,
      ApiKeyStore keys,
      GenerationService generations,
      io.tempera.api.BatchService batches,
      ObjectProvider<MeterRegistry> metrics) {
    return new WebhookActivitiesImpl(
        rules,
        keys,
        event -> body(event, generations, batches),
        Clock.systemUTC(),
        metrics.getIfAvailable());
  }

  /**
   * The body of {@code event}: a generation's as its REST state shows it; a batch's ({@code batch}
   * instead of {@code generation}) as {@code GET /api/batches/{id}} shows it with every variation.
   */
  static byte[] body(
      WebhookEvent event, GenerationService generations, io.tempera.api.BatchService batches) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("id", event.id());
    body.put("type", event.type());
    body.put("createdAt", event.createdAt());
    body.put("projectId", event.projectId());
    if (event.batch() != null) {
      body.put("batch", batches.endView(event.batch()));
    } else {
      body.put("generation", generations.toView(event.generation().asState(), Optional.empty()));
    }
    try {
      return JSON.writeValueAsBytes(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("a webhook event could not be written as JSON", e);
    }
  }
}
