package io.tempera.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.codec.EncryptionCodec;
import io.tempera.codec.TemperaDataConverter;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.InProcessProgressBus;
import io.tempera.progress.ProgressBus;
import io.tempera.template.NodeCatalogueSource;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.temporal.common.converter.DataConverter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * What the API and the workers share: templates, the output store, the progress bus and payload
 * encryption.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties({TemperaProperties.class, SchedulingProperties.class})
@org.springframework.context.annotation.Import(
    io.tempera.observability.ObservabilityConfiguration.class)
public class TemperaCoreConfiguration {

  private static final Logger log = LoggerFactory.getLogger(TemperaCoreConfiguration.class);

  /**
   * At start, a warning naming the {@code TEMPERA_*} environment variables this application does
   * not read, each with the known name nearest to it ({@link EnvironmentNames}); nothing fails.
   */
  @Bean
  public org.springframework.context.ApplicationListener<
          org.springframework.boot.context.event.ApplicationStartedEvent>
      unknownEnvironmentNames() {
    return event -> EnvironmentNames.warnAboutUnknown(event.getApplicationContext());
  }

  /**
   * Payload encryption, when {@code tempera.encryption.enabled}: the configured keys, checked at
   * start (a key that is not 32 bytes of base64 fails it, naming the key's id, never the key).
   */
  @Bean
  @ConditionalOnProperty(name = "tempera.encryption.enabled", havingValue = "true")
  public EncryptionCodec encryptionCodec(TemperaProperties properties) {
    TemperaProperties.Encryption settings = properties.encryption();
    EncryptionCodec codec;
    try {
      codec = EncryptionCodec.ofBase64(settings.currentKeyId(), settings.keys());
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(
          "tempera.encryption is enabled but its keys are not usable: " + e.getMessage());
    }
    log.info(
        "Payload encryption on: key id '{}' encrypts; keys {} decrypt",
        codec.currentKeyId(),
        codec.keyIds());
    return codec;
  }

  /**
   * The data converter of Temporal's client and workers: {@link TemperaDataConverter} (the SDK's
   * default converters, reading payloads with properties a record does not know, as a rolling
   * upgrade sends them), every payload then encrypted when encryption is on. The Temporal Spring
   * Boot starter takes the one {@link DataConverter} bean there is (by this name when there are
   * several) for the WorkflowClient, the workers and the in-process test server alike.
   */
  @Bean
  public DataConverter mainDataConverter(ObjectProvider<EncryptionCodec> encryptionCodec) {
    EncryptionCodec codec = encryptionCodec.getIfAvailable();
    return codec == null ? TemperaDataConverter.standard() : codec.dataConverter();
  }

  /** Jackson 2 for templates and backend payloads (the web layer has its own Jackson 3). */
  @Bean
  public ObjectMapper templateObjectMapper() {
    return new ObjectMapper();
  }

  /**
   * The templates, with ComfyUI graphs checked against the node catalogue of the servers: a worker
   * host's (and the embedded default's) {@link NodeCatalogueSource} bean, else on the API alone the
   * servers {@code tempera.node-catalogue.comfyui-urls} names, else none (not checked).
   */
  @Bean
  public TemplateRegistry templateRegistry(
      TemperaProperties properties,
      ObjectMapper templateObjectMapper,
      ObjectProvider<NodeCatalogueSource> catalogues) {
    NodeCatalogueSource source =
        properties.nodeCatalogue().enabled()
            ? catalogues.getIfAvailable(() -> NodeCatalogueSource.NONE)
            : NodeCatalogueSource.NONE;
    return new TemplateRegistry(
        properties.templatesDir(),
        templateObjectMapper,
        properties.templatesRecheckMillis(),
        source);
  }

  /**
   * On the API alone: the node catalogues of the ComfyUI servers {@code
   * tempera.node-catalogue.comfyui-urls} names (a worker host defines its own, from its servers).
   */
  @Bean(destroyMethod = "close")
  @ConditionalOnExpression(
      "!'${tempera.node-catalogue.comfyui-urls:}'.isEmpty() and '${tempera.node-catalogue.enabled:true}' == 'true'")
  @ConditionalOnMissingBean(NodeCatalogueSource.class)
  public ComfyUiNodeCatalogues apiNodeCatalogues(
      TemperaProperties properties, ObjectMapper templateObjectMapper) {
    TemperaProperties.NodeCatalogue settings = properties.nodeCatalogue();
    return new ComfyUiNodeCatalogues(
            settings.comfyuiUrls(),
            templateObjectMapper,
            settings.refresh(),
            settings.timeout(),
            true)
        .start();
  }

  @Bean
  public TemplateTranslator templateTranslator(ObjectMapper templateObjectMapper) {
    return new TemplateTranslator(templateObjectMapper);
  }

  @Bean
  public OutputStore outputStore(TemperaProperties properties) {
    return new OutputStore(properties.outputRoot(), properties.limits().imageLimits());
  }

  /** Progress within one process: the embedded default and single-host setups. */
  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnExpression("'${tempera.progress.redis-url:}'.isEmpty()")
  public ProgressBus progressBus(
      ObjectProvider<io.micrometer.core.instrument.MeterRegistry> metrics) {
    return metered(new InProcessProgressBus(), metrics);
  }

  /** Progress across hosts through Redis, when {@code tempera.progress.redis-url} is set. */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  @ConditionalOnExpression("!'${tempera.progress.redis-url:}'.isEmpty()")
  public ProgressBus redisProgressBus(
      @org.springframework.beans.factory.annotation.Value("${tempera.progress.redis-url}")
          String url,
      ObjectProvider<io.micrometer.core.instrument.MeterRegistry> metrics) {
    return metered(
        new io.tempera.progress.redis.RedisProgressBus(url, java.time.Duration.ofHours(24)),
        metrics);
  }

  /** The bus, counting the events it carries when there is a meter registry. */
  private static ProgressBus metered(
      ProgressBus bus, ObjectProvider<io.micrometer.core.instrument.MeterRegistry> metrics) {
    io.micrometer.core.instrument.MeterRegistry registry = metrics.getIfAvailable();
    return registry == null ? bus : new io.tempera.observability.MeteredProgressBus(bus, registry);
  }
}
