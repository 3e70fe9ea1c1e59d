package io.tempera.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.script.ScriptBackend;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.gradio.GradioBackend;
import io.tempera.backend.gradio.GradioClient;
import io.tempera.backend.gradio.GradioClientOptions;
import io.tempera.config.TemperaCoreConfiguration;
import io.tempera.generation.GenerationActivitiesImpl;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.LocalSlotPool;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import java.net.URI;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/** The activities a worker host serves, with the backends and slots they use. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(WorkerProperties.class)
@Import(TemperaCoreConfiguration.class)
public class WorkerConfiguration {

  /** The ComfyUI backend: the embedded testkit server, or the configured endpoints. */
  @Bean
  public ComfyUiBackend comfyUiBackend(WorkerProperties properties, ObjectProvider<ComfyUiTestServer> embedded) {
    ComfyUiTestServer server = embedded.getIfAvailable();
    ComfyUiClientOptions defaults = ComfyUiClientOptions.defaults();
    ComfyUiClientOptions options =
        new ComfyUiClientOptions(
            defaults.connectTimeout(), defaults.requestTimeout(), defaults.wsIdlePoll(), properties.comfyuiRunTimeout());
    List<URI> urls = server != null ? List.of(server.baseUrl()) : properties.comfyuiUrls();
    return new ComfyUiBackend(urls.stream().map(url -> ComfyUiBackend.endpoint(new ComfyUiClient(url, options))).toList());
  }

  /** The Gradio backend: the configured servers (tempera.worker.gradio-urls); none is allowed. */
  @Bean
  public GradioBackend gradioBackend(WorkerProperties properties) {
    GradioClientOptions options = GradioClientOptions.defaults().withCredentials(properties.gradioUsername(), properties.gradioPassword());
    return new GradioBackend(properties.gradioUrls().stream().map(url -> GradioBackend.endpoint(new GradioClient(url, options))).toList());
  }

  /** Closes the Gradio clients when the worker stops. */
  @Bean
  public org.springframework.beans.factory.DisposableBean closeGradioClients(GradioBackend gradioBackend) {
    return () -> gradioBackend.endpoints().forEach(e -> e.client().close());
  }

  @Bean
  public BackendRegistry backendRegistry(
      ComfyUiBackend comfyUiBackend, GradioBackend gradioBackend, WorkerProperties properties, MeterRegistry metrics) {
    gradioBackend.endpoints().forEach(endpoint ->
        io.micrometer.core.instrument.Gauge.builder("tempera.backend.breaker.open", endpoint.breaker(),
                breaker -> breaker.state() == io.tempera.backend.CircuitBreaker.State.CLOSED ? 0 : 1)
            .description("1 while the endpoint's circuit breaker keeps it out of use")
            .tag("backend", GradioBackend.TYPE)
            .tag("endpoint", endpoint.name())
            .register(metrics));
    comfyUiBackend.endpoints().forEach(endpoint ->
        io.micrometer.core.instrument.Gauge.builder("tempera.backend.breaker.open", endpoint.breaker(),
                breaker -> breaker.state() == io.tempera.backend.CircuitBreaker.State.CLOSED ? 0 : 1)
            .description("1 while the endpoint's circuit breaker keeps it out of use")
            .tag("backend", ComfyUiBackend.TYPE)
            .tag("endpoint", endpoint.name())
            .register(metrics));
    return new BackendRegistry(List.of(comfyUiBackend, gradioBackend, new ScriptBackend(properties.scriptRuns())));
  }

  /** Closes the ComfyUI clients when the worker stops. */
  @Bean
  public org.springframework.beans.factory.DisposableBean closeComfyUiClients(ComfyUiBackend comfyUiBackend) {
    return () -> comfyUiBackend.endpoints().forEach(e -> e.client().close());
  }

  @Bean
  public LocalSlotPool localSlotPool(WorkerProperties properties) {
    return new LocalSlotPool("local", properties.slots());
  }

  /** Registered with the Temporal worker by name (spring.temporal.workers[].activity-beans). */
  @Bean
  public GenerationActivitiesImpl generationActivities(
      WorkerProperties properties,
      TemplateRegistry templates,
      TemplateTranslator translator,
      LocalSlotPool slots,
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress,
      MeterRegistry metrics) {
    GenerationActivitiesImpl activities = new GenerationActivitiesImpl(templates, translator, slots, backends, outputs, progress, metrics);
    activities.containersEnabled(properties.docker().enabled());
    return activities;
  }

  /** This host's model containers on the Docker engine (tempera.worker.docker.enabled=true). */
  @Bean(destroyMethod = "close")
  @org.springframework.boot.autoconfigure.condition.ConditionalOnProperty(name = "tempera.worker.docker.enabled", havingValue = "true")
  public io.tempera.containers.DockerModelHost dockerModelHost(WorkerProperties properties, MeterRegistry metrics) {
    return DockerModelHosts.create(properties.docker(), metrics);
  }

  /** /actuator/health shows whether the Docker engine answers and what this host runs on it. */
  @Bean
  @org.springframework.boot.autoconfigure.condition.ConditionalOnProperty(name = "tempera.worker.docker.enabled", havingValue = "true")
  public org.springframework.boot.health.contributor.HealthIndicator dockerHealthIndicator(io.tempera.containers.DockerModelHost host) {
    return () -> host.engineAvailable()
        ? org.springframework.boot.health.contributor.Health.up().withDetail("hostId", host.options().hostId())
            .withDetail("containers", host.containers()).build()
        : org.springframework.boot.health.contributor.Health.down().withDetail("reason", "the Docker engine does not answer").build();
  }
}
