package io.tempera.worker;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.activities.GenerationActivitySet;
import io.tempera.activities.GenerationEndsInterceptor;
import io.tempera.activities.slots.GpuDiscovery;
import io.tempera.activities.slots.SlotAllocatorActivitiesImpl;
import io.tempera.activities.slots.SlotAllocatorClient;
import io.tempera.backend.BackendRegistry;
import io.tempera.backend.comfyui.ComfyUiBackend;
import io.tempera.backend.comfyui.ComfyUiClient;
import io.tempera.backend.comfyui.ComfyUiClientOptions;
import io.tempera.backend.gradio.GradioBackend;
import io.tempera.backend.gradio.GradioClient;
import io.tempera.backend.gradio.GradioClientOptions;
import io.tempera.backend.script.ScriptBackend;
import io.tempera.config.TemperaCoreConfiguration;
import io.tempera.containers.ModelHost;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.slots.AllocatorSettings;
import io.tempera.slots.Gpu;
import io.tempera.slots.HostRegistration;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.temporal.client.WorkflowClient;
import io.temporal.worker.WorkerFactory;
import java.net.URI;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/** The activities a worker host serves, with the backends and slots they use. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(WorkerProperties.class)
@Import(TemperaCoreConfiguration.class)
public class WorkerConfiguration {

  private static final Logger log = LoggerFactory.getLogger(WorkerConfiguration.class);

  /** How often a host registers with its pool again (idempotent; one signal). */
  static final java.time.Duration REREGISTER_EVERY = java.time.Duration.ofMinutes(5);

  /**
   * The ComfyUI backend: the servers a {@link ComfyUiUrls} bean names (the embedded all-in-one's
   * testkit server), else the configured endpoints (tempera.worker.comfyui-url(s)).
   */
  @Bean
  public ComfyUiBackend comfyUiBackend(
      WorkerProperties properties,
      ObjectProvider<ComfyUiUrls> comfyUiUrls,
      ObjectProvider<io.opentelemetry.api.OpenTelemetry> openTelemetry) {
    ComfyUiClientOptions defaults = ComfyUiClientOptions.defaults();
    ComfyUiClientOptions options =
        new ComfyUiClientOptions(
                defaults.connectTimeout(),
                defaults.requestTimeout(),
                defaults.wsIdlePoll(),
                properties.comfyuiRunTimeout())
            .withTracing(backendTracing(openTelemetry));
    List<URI> urls = comfyUiUrls.getIfAvailable(() -> properties::comfyuiUrls).urls();
    return new ComfyUiBackend(
        urls.stream().map(url -> ComfyUiBackend.endpoint(new ComfyUiClient(url, options))).toList(),
        options);
  }

  /**
   * The node catalogues of this host's ComfyUI servers (their {@code /object_info}), which the
   * template registry checks the ComfyUI graphs against: a template naming a node class or model
   * file they lack is unavailable, not a failed generation. Containerised models' tiers are not
   * checked while containers start on demand.
   */
  @Bean(destroyMethod = "close")
  @org.springframework.context.annotation.Primary
  @org.springframework.boot.autoconfigure.condition.ConditionalOnProperty(
      name = "tempera.node-catalogue.enabled",
      havingValue = "true",
      matchIfMissing = true)
  public io.tempera.config.ComfyUiNodeCatalogues comfyUiNodeCatalogues(
      WorkerProperties properties,
      ObjectProvider<ComfyUiUrls> comfyUiUrls,
      io.tempera.config.TemperaProperties tempera,
      com.fasterxml.jackson.databind.ObjectMapper templateObjectMapper) {
    List<URI> urls = comfyUiUrls.getIfAvailable(() -> properties::comfyuiUrls).urls();
    return new io.tempera.config.ComfyUiNodeCatalogues(
            urls,
            templateObjectMapper,
            tempera.nodeCatalogue().refresh(),
            tempera.nodeCatalogue().timeout(),
            properties.docker().enabled())
        .start();
  }

  /** The Gradio backend: the configured servers (tempera.worker.gradio-urls); none is allowed. */
  @Bean
  public GradioBackend gradioBackend(
      WorkerProperties properties,
      ObjectProvider<io.opentelemetry.api.OpenTelemetry> openTelemetry) {
    GradioClientOptions options =
        GradioClientOptions.defaults()
            .withCredentials(properties.gradioUsername(), properties.gradioPassword())
            .withRestartGrace(properties.gradioRestartGrace())
            .withTracing(backendTracing(openTelemetry));
    return new GradioBackend(
        properties.gradioUrls().stream()
            .map(url -> GradioBackend.endpoint(new GradioClient(url, options)))
            .toList());
  }

  /**
   * Spans of the backends' HTTP calls in a generation's trace, when tracing is on (Spring Boot's
   * OpenTelemetry is there only then: tempera.tracing.enabled).
   */
  static io.tempera.backend.BackendTracing backendTracing(
      ObjectProvider<io.opentelemetry.api.OpenTelemetry> openTelemetry) {
    io.opentelemetry.api.OpenTelemetry configured = openTelemetry.getIfAvailable();
    return configured == null
        ? io.tempera.backend.BackendTracing.NONE
        : io.tempera.backend.BackendTracing.of(configured);
  }

  /** Closes the Gradio clients when the worker stops. */
  @Bean
  public org.springframework.beans.factory.DisposableBean closeGradioClients(
      GradioBackend gradioBackend) {
    return () -> gradioBackend.endpoints().forEach(e -> e.client().close());
  }

  @Bean
  public BackendRegistry backendRegistry(
      ComfyUiBackend comfyUiBackend,
      GradioBackend gradioBackend,
      WorkerProperties properties,
      MeterRegistry metrics) {
    gradioBackend
        .endpoints()
        .forEach(e -> breakerGauge(metrics, GradioBackend.TYPE, e.name(), e.breaker()));
    comfyUiBackend
        .endpoints()
        .forEach(e -> breakerGauge(metrics, ComfyUiBackend.TYPE, e.name(), e.breaker()));
    return new BackendRegistry(
        List.of(comfyUiBackend, gradioBackend, new ScriptBackend(properties.scriptRuns())));
  }

  /** 1 while an endpoint's circuit breaker keeps it out of use. */
  private static void breakerGauge(
      MeterRegistry metrics,
      String backend,
      String endpoint,
      io.tempera.backend.CircuitBreaker breaker) {
    io.micrometer.core.instrument.Gauge.builder(
            "tempera.backend.breaker.open",
            breaker,
            b -> b.state() == io.tempera.backend.CircuitBreaker.State.CLOSED ? 0 : 1)
        .description("1 while the endpoint's circuit breaker keeps it out of use")
        .tag("backend", backend)
        .tag("endpoint", endpoint)
        .register(metrics);
  }

  /** Closes the ComfyUI clients when the worker stops. */
  @Bean
  public org.springframework.beans.factory.DisposableBean closeComfyUiClients(
      ComfyUiBackend comfyUiBackend) {
    return () -> {
      comfyUiBackend.endpoints().forEach(e -> e.client().close());
      comfyUiBackend.closeModelClients();
    };
  }

  /** Every activity this host runs (on the queues {@link #temperaTaskQueues} registers them on). */
  @Bean
  public GenerationActivitySet generationActivities(
      SlotAllocatorClient allocator,
      TemplateRegistry templates,
      TemplateTranslator translator,
      BackendRegistry backends,
      OutputStore outputs,
      ProgressBus progress,
      MeterRegistry metrics,
      ObjectProvider<ModelHost> modelHost,
      HostRegistration host,
      WorkerProperties properties) {
    return GenerationActivitySet.of(
        allocator,
        templates,
        translator,
        backends,
        outputs,
        progress,
        metrics,
        modelHost.getIfAvailable(),
        host,
        properties.slotPool(),
        properties.defaultVramMb());
  }

  /**
   * The slot allocator's activities, on the allocators' queue (spring.temporal.workers in the yml).
   */
  /**
   * Publishes each generation's end on the progress bus, so the API's followers learn of it without
   * a long poll on Temporal per followed generation (the Temporal starter adds every {@code
   * WorkerInterceptor} bean to the worker factory).
   */
  @Bean
  public GenerationEndsInterceptor generationEndsInterceptor(ProgressBus progress) {
    return new GenerationEndsInterceptor(progress);
  }

  /**
   * The generations' meters (outcome, duration, fallbacks, slot wait, failed and retried activity
   * attempts) and their ids on the workflow's log lines, from outside the workflow's code.
   */
  @Bean
  public io.tempera.observability.GenerationMetricsInterceptor generationMetricsInterceptor(
      MeterRegistry metrics) {
    return new io.tempera.observability.GenerationMetricsInterceptor(metrics);
  }

  /**
   * This host's slot meters (slots, busy slots, leases, GPU memory leased) and its pool's queue
   * depth, the allocator read every 15 s.
   */
  @Bean(destroyMethod = "close")
  public io.tempera.observability.HostMetrics hostMetrics(
      MeterRegistry metrics,
      SlotAllocatorClient allocator,
      WorkerProperties properties,
      HostRegistration host,
      GenerationActivitySet activities) {
    java.util.function.IntSupplier runsNow =
        activities.runs() instanceof io.tempera.activities.run.BackendActivitiesImpl runs
            ? runs::runsNow
            : () -> 0;
    return new io.tempera.observability.HostMetrics(
            metrics,
            allocator,
            properties.slotPool(),
            host,
            runsNow,
            java.time.Duration.ofSeconds(15))
        .start();
  }

  /**
   * Workflow threads are virtual: a generation waiting in line stays in the worker's cache (up to
   * 600, the SDK's default) without a platform thread of its own (QueuedBench: 10,000 queued on one
   * host, bench/results/queued.md).
   */
  @Bean
  public io.temporal.spring.boot.TemporalOptionsCustomizer<
          io.temporal.worker.WorkerFactoryOptions.Builder>
      virtualWorkflowThreads() {
    return options -> options.setUsingVirtualWorkflowThreads(true);
  }

  @Bean
  public SlotAllocatorActivitiesImpl slotAllocatorActivities(
      WorkflowClient client, ProgressBus progress) {
    return new SlotAllocatorActivitiesImpl(client, progress);
  }

  /** Talks to the pool's slot allocator workflow. */
  @Bean
  public SlotAllocatorClient slotAllocatorClient(
      WorkflowClient client, WorkerProperties properties) {
    return new SlotAllocatorClient(
        client,
        new AllocatorSettings(
            properties.reclaimEverySeconds(), 2_000, properties.hostTimeoutSeconds()));
  }

  /** What this host offers its pool: declared GPUs, else discovered ones, else one virtual GPU. */
  @Bean
  public HostRegistration hostRegistration(WorkerProperties properties) {
    List<Gpu> gpus = properties.gpus();
    if (gpus.isEmpty()) {
      gpus = GpuDiscovery.discover();
    }
    if (gpus.isEmpty()) {
      gpus = List.of(new Gpu(0, properties.virtualGpuVramMb()));
    }
    // its tiers: the pool's allocator places only generations of these here
    return HostRegistration.of(
        properties.hostId(), gpus, properties.slots(), properties.prefetch(), properties.tiers());
  }

  /**
   * The task queues this host serves, each with only the activities that run there: its tiers'
   * generation queues (the workflows, their planning as local activities, and lease requests), its
   * own host queue (the steps after a lease: model, run, outputs), and the slot allocators' queue.
   * Added before the worker factory starts (on ApplicationReadyEvent).
   */
  @Bean
  public SmartInitializingSingleton temperaTaskQueues(
      WorkerFactory factory,
      WorkerProperties properties,
      HostRegistration host,
      GenerationActivitySet activities) {
    return () -> {
      activities.register(
          factory,
          properties.tiers().stream().map(GenerationWorkflow::taskQueueFor).toList(),
          host.taskQueue());
      log.info(
          "host {} serves tiers {} and {}, GPUs {}",
          host.hostId(),
          properties.tiers(),
          host.taskQueue(),
          host.gpus());
    };
  }

  /**
   * Registers this host with its pool's allocator once the application is ready (again on every
   * start: a re-registration replaces the host's GPUs and keeps its leases); retried until Temporal
   * answers. Then again every {@link #REREGISTER_EVERY}: an allocator that was stopped (by an
   * operator) and started again by another host's lease request learns of this host's GPUs too.
   */
  @Bean
  public ApplicationListener<ApplicationReadyEvent> registerWithSlotPool(
      SlotAllocatorClient allocator, WorkerProperties properties, HostRegistration host) {
    return event ->
        Thread.ofVirtual()
            .name("tempera-host-registration")
            .start(() -> {
              long backoff = 500;
              while (true) {
                try {
                  allocator.registerHost(properties.slotPool(), host);
                  if (backoff > 0) {
                    log.info(
                        "host {} registered with slot pool {}",
                        host.hostId(),
                        properties.slotPool());
                  }
                  backoff = 0;
                  Thread.sleep(REREGISTER_EVERY.toMillis());
                } catch (InterruptedException stop) {
                  return;
                } catch (RuntimeException e) {
                  log.warn(
                      "registering host {} with slot pool {} failed ({}); retrying",
                      host.hostId(),
                      properties.slotPool(),
                      e.getMessage());
                  try {
                    Thread.sleep(backoff);
                  } catch (InterruptedException stop) {
                    return;
                  }
                  backoff = Math.min(Math.max(500, backoff * 2), 10_000);
                }
              }
            });
  }

  /** This host's model containers on the Docker engine (tempera.worker.docker.enabled=true). */
  @Bean(destroyMethod = "close")
  @org.springframework.boot.autoconfigure.condition.ConditionalOnProperty(
      name = "tempera.worker.docker.enabled",
      havingValue = "true")
  public io.tempera.containers.DockerModelHost dockerModelHost(
      WorkerProperties properties, HostRegistration host, MeterRegistry metrics) {
    return DockerModelHosts.create(properties, host, metrics);
  }

  /**
   * {@code backends} in /actuator/health and the readiness group: DOWN once a run's watchdog found
   * its backend doing nothing (stalled, or never leaving its queue), until a run progresses again.
   */
  @Bean
  public org.springframework.boot.health.contributor.HealthIndicator backendsHealthIndicator(
      GenerationActivitySet activities) {
    if (!(activities.runs() instanceof io.tempera.activities.run.BackendActivitiesImpl runs)) {
      return () -> org.springframework.boot.health.contributor.Health.unknown().build();
    }
    return () ->
        runs.health()
            .stalled()
            .map(stall ->
                org.springframework.boot.health.contributor.Health.down()
                    .withDetail(
                        "reason", "a backend takes runs and does not progress: " + stall.reason())
                    .withDetail("trip", stall.trip())
                    .withDetail("generationId", stall.generationId())
                    .withDetail("since", stall.at().toString())
                    .build())
            .orElseGet(() -> org.springframework.boot.health.contributor.Health.up().build());
  }

  /**
   * {@code docker} in /actuator/health and the readiness group: whether the Docker engine answers
   * and what this host runs on it; UP, "not used", when this host runs no containers.
   */
  @Bean
  public org.springframework.boot.health.contributor.HealthIndicator dockerHealthIndicator(
      ObjectProvider<io.tempera.containers.DockerModelHost> docker) {
    return () -> {
      io.tempera.containers.DockerModelHost host = docker.getIfAvailable();
      if (host == null) {
        return org.springframework.boot.health.contributor.Health.up()
            .withDetail("engine", "not used (tempera.worker.docker.enabled is false)")
            .build();
      }
      return host.engineAvailable()
          ? org.springframework.boot.health.contributor.Health.up()
              .withDetail("hostId", host.options().hostId())
              .withDetail("containers", host.containers())
              .build()
          : org.springframework.boot.health.contributor.Health.down()
              .withDetail("reason", "the Docker engine does not answer")
              .build();
    };
  }
}
