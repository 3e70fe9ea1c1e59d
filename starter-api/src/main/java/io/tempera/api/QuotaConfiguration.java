package io.tempera.api;

import io.tempera.quotas.AllocatorUsage;
import io.tempera.quotas.QuotaProperties;
import io.tempera.quotas.Quotas;
import io.temporal.client.WorkflowClient;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The quotas of {@code tempera.quotas.*}, counted by the slot pools' allocators. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(QuotaProperties.class)
public class QuotaConfiguration {

  @Bean
  public Quotas quotas(QuotaProperties properties, WorkflowClient client) {
    return new Quotas(
        properties,
        new AllocatorUsage(client, properties.pools(), System::currentTimeMillis),
        System::currentTimeMillis);
  }

  /**
   * A batch's generations admitted one by one ({@code tempera-batches}, on the API's processes).
   */
  @Bean
  public io.tempera.quotas.BatchAdmissions batchAdmissions(Quotas quotas) {
    return new io.tempera.quotas.BatchAdmissions(quotas);
  }
}
