package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.config.EnvironmentNames;
import io.tempera.config.SchedulingProperties;
import io.tempera.config.TemperaCoreConfiguration;
import io.tempera.config.TemperaProperties;
import io.tempera.quotas.QuotaProperties;
import io.tempera.worker.WorkerProperties;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * Every environment variable README documents does what it says, in each application it names: the
 * three applications' own config files ({@code tempera-api.yml}, {@code tempera-worker.yml}, {@code
 * tempera-embedded.yml}) are loaded as Spring Boot loads them, with the variable in the system
 * environment, and the property it documents is checked. A variable nothing reads is named by a
 * warning at start.
 */
@ExtendWith(OutputCaptureExtension.class)
class DocumentedEnvironmentNamesTest {

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties({
    TemperaProperties.class,
    SchedulingProperties.class,
    QuotaProperties.class,
    io.tempera.api.webhooks.WebhookProperties.class
  })
  static class Api {}

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties({
    TemperaProperties.class,
    SchedulingProperties.class,
    WorkerProperties.class
  })
  static class Worker {}

  @Configuration(proxyBeanMethods = false)
  @EnableConfigurationProperties({
    TemperaProperties.class,
    SchedulingProperties.class,
    WorkerProperties.class,
    QuotaProperties.class
  })
  static class Embedded {}

  enum App {
    API("tempera-api", Api.class),
    WORKER("tempera-worker", Worker.class),
    EMBEDDED("tempera-embedded", Embedded.class);

    final String configName;
    final Class<?> configuration;

    App(String configName, Class<?> configuration) {
      this.configName = configName;
      this.configuration = configuration;
    }
  }

  /** The application's configuration as Spring Boot loads it, with this system environment. */
  static ConfigurableApplicationContext start(App app, Map<String, Object> environment) {
    StandardEnvironment withEnvironment =
        new StandardEnvironment() {
          @Override
          protected void customizePropertySources(MutablePropertySources sources) {
            sources.addLast(
                new SystemEnvironmentPropertySource(
                    SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, environment));
          }
        };
    return new SpringApplicationBuilder(app.configuration)
        .web(WebApplicationType.NONE)
        .bannerMode(Banner.Mode.OFF)
        .logStartupInfo(false)
        .environment(withEnvironment)
        .properties("spring.config.name=" + app.configName)
        .listeners(new TemperaCoreConfiguration().unknownEnvironmentNames())
        .run();
  }

  /** What one documented variable must do in one application. */
  record Case(App app, String variable, String value, Function<Ctx, Object> read, Object expected) {
    @Override
    public String toString() {
      return app + " " + variable + "=" + value;
    }
  }

  record Ctx(ConfigurableApplicationContext context) {
    String property(String name) {
      return context.getEnvironment().getProperty(name);
    }

    TemperaProperties tempera() {
      return context.getBean(TemperaProperties.class);
    }

    WorkerProperties worker() {
      return context.getBean(WorkerProperties.class);
    }

    QuotaProperties quotas() {
      return context.getBean(QuotaProperties.class);
    }
  }

  static final String A = "http://gpu-a:8188";
  static final String B = "http://gpu-b:8188";
  static final String OTLP_TRACES = "management.opentelemetry.tracing.export.otlp.endpoint";
  static final String KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

  static List<Case> documented() {
    List<Case> cases = new java.util.ArrayList<>();
    for (App app : App.values()) {
      cases.add(
          new Case(
              app,
              "TEMPERA_OUTPUT_ROOT",
              "/srv/projects",
              c -> c.tempera().outputRoot(),
              Path.of("/srv/projects")));
      cases.add(
          new Case(
              app,
              "TEMPERA_TEMPLATES_DIR",
              "/srv/templates",
              c -> c.tempera().templatesDir(),
              Path.of("/srv/templates")));
      cases.add(
          new Case(
              app,
              "TEMPERA_PROGRESS_REDIS_URL",
              "redis://redis:6379",
              c -> c.property("tempera.progress.redis-url"),
              "redis://redis:6379"));
      // JSON log lines (README, Metrics, readiness and logs): Spring Boot's structured logging
      cases.add(
          new Case(
              app,
              "TEMPERA_LOG_FORMAT",
              "json",
              c -> c.property("logging.structured.format.console"),
              "logstash"));
    }
    // tracing (README, Tracing): off unless turned on; where the spans go; how many requests
    for (App app : App.values()) {
      cases.add(
          new Case(
              app,
              "TEMPERA_TRACING_ENABLED",
              "true",
              c ->
                  c.property("tempera.tracing.enabled")
                      + " "
                      + c.property("spring.reactor.context-propagation"),
              "true auto"));
      cases.add(
          new Case(
              app,
              "TEMPERA_TRACING_SAMPLING_PROBABILITY",
              "0.25",
              c -> c.property("management.tracing.sampling.probability"),
              "0.25"));
      cases.add(
          new Case(
              app,
              "OTEL_EXPORTER_OTLP_ENDPOINT",
              "http://collector:4318",
              c -> c.property(OTLP_TRACES),
              "http://collector:4318/v1/traces"));
      cases.add(
          new Case(
              app,
              "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
              "http://tempo:4318/v1/traces",
              c -> c.property(OTLP_TRACES),
              "http://tempo:4318/v1/traces"));
    }
    // who may call the API: the keys file and the origins of other pages
    for (App app : List.of(App.API, App.EMBEDDED)) {
      cases.add(
          new Case(
              app,
              "TEMPERA_KEYS_FILE",
              "/srv/keys.json",
              c -> c.tempera().security().keysFile(),
              Path.of("/srv/keys.json")));
      cases.add(
          new Case(
              app,
              "TEMPERA_ALLOWED_ORIGINS",
              "http://canvas:3000,http://localhost:8233",
              c -> c.tempera().security().allowedOrigins(),
              List.of("http://canvas:3000", "http://localhost:8233")));
    }
    // quotas and the queue's bound, on the API hosts (README, Quotas)
    for (App app : List.of(App.API, App.EMBEDDED)) {
      cases.add(
          new Case(
              app,
              "TEMPERA_QUOTAS_DEFAULTS_MAX_RUNNING",
              "8",
              c -> c.quotas().defaults().maxRunning(),
              8));
      cases.add(
          new Case(
              app,
              "TEMPERA_QUOTAS_DEFAULTS_MAX_QUEUED",
              "200",
              c -> c.quotas().defaults().maxQueued(),
              200));
      cases.add(
          new Case(
              app,
              "TEMPERA_QUOTAS_DEFAULTS_GPU_SECONDS_PER_HOUR",
              "7200",
              c -> c.quotas().defaults().gpuSecondsPerHour(),
              7200L));
      cases.add(
          new Case(
              app,
              "TEMPERA_QUOTAS_MAX_QUEUED_TOTAL",
              "5000",
              c -> c.quotas().maxQueuedTotal(),
              5000));
      cases.add(
          new Case(
              app,
              "TEMPERA_QUOTAS_POOLS",
              "default,big",
              c -> c.quotas().pools(),
              List.of("default", "big")));
    }
    // payload encryption, on the API and worker hosts alike (README, Encryption at rest)
    for (App app : App.values()) {
      cases.add(
          new Case(
              app,
              "TEMPERA_ENCRYPTION_ENABLED",
              "true",
              c -> c.tempera().encryption().enabled(),
              true));
      cases.add(
          new Case(
              app,
              "TEMPERA_ENCRYPTION_CURRENT_KEY_ID",
              "k2026",
              c -> c.tempera().encryption().currentKeyId(),
              "k2026"));
      for (String id : List.of("K2026", "K2027")) {
        cases.add(
            new Case(
                app,
                "TEMPERA_ENCRYPTION_KEYS_" + id,
                KEY,
                c -> c.tempera().encryption().keys(),
                Map.of(id.toLowerCase(java.util.Locale.ROOT), KEY)));
      }
    }
    for (App app : List.of(App.API, App.EMBEDDED)) {
      cases.add(new Case(app, "TEMPERA_PORT", "9123", c -> c.property("server.port"), "9123"));
    }
    for (App app : List.of(App.API, App.WORKER)) {
      cases.add(
          new Case(
              app,
              "TEMPORAL_ADDRESS",
              "temporal:7233",
              c -> c.property("spring.temporal.connection.target"),
              "temporal:7233"));
      cases.add(
          new Case(
              app,
              "TEMPORAL_NAMESPACE",
              "studio",
              c -> c.property("spring.temporal.namespace"),
              "studio"));
    }
    // the API alone: the servers the templates are checked against
    cases.add(
        new Case(
            App.API,
            "TEMPERA_COMFYUI_URLS",
            A + "," + B,
            c -> c.tempera().nodeCatalogue().comfyuiUrls(),
            List.of(URI.create(A), URI.create(B))));
    cases.add(
        new Case(
            App.API,
            "TEMPERA_COMFYUI_URL",
            A,
            c -> c.tempera().nodeCatalogue().comfyuiUrls(),
            List.of(URI.create(A))));
    // the embedded default: its own ComfyUI instead of the testkit server
    cases.add(
        new Case(
            App.EMBEDDED,
            "TEMPERA_COMFYUI_URL",
            A,
            c -> c.property(EmbeddedConfiguration.COMFYUI_URL),
            A));
    cases.add(
        new Case(
            App.EMBEDDED,
            "TEMPERA_COMFYUI_URLS",
            A + "," + B,
            c -> c.property(EmbeddedConfiguration.COMFYUI_URL),
            A + "," + B));
    cases.add(
        new Case(
            App.EMBEDDED,
            "TEMPERA_COMFYUI_PORT",
            "8190",
            c -> c.property("tempera.embedded.comfyui-port"),
            "8190"));
    // a worker host's ComfyUI servers
    cases.add(
        new Case(
            App.WORKER,
            "TEMPERA_COMFYUI_URL",
            A,
            c -> c.worker().comfyuiUrls(),
            List.of(URI.create(A))));
    cases.add(
        new Case(
            App.WORKER,
            "TEMPERA_COMFYUI_URLS",
            A + "," + B,
            c -> c.worker().comfyuiUrls(),
            List.of(URI.create(A), URI.create(B))));
    cases.add(
        new Case(
            App.WORKER, "TEMPERA_WORKER_PORT", "9124", c -> c.property("server.port"), "9124"));
    // the worker settings, on a worker host and in the embedded default (which runs a worker)
    for (App app : List.of(App.WORKER, App.EMBEDDED)) {
      cases.add(
          new Case(
              app,
              "TEMPERA_GRADIO_URLS",
              "http://a:7860,http://b:7860",
              c -> c.worker().gradioUrls(),
              List.of(URI.create("http://a:7860"), URI.create("http://b:7860"))));
      cases.add(
          new Case(
              app,
              "TEMPERA_GRADIO_USERNAME",
              "studio",
              c -> c.worker().gradioUsername(),
              "studio"));
      cases.add(
          new Case(
              app,
              "TEMPERA_GRADIO_PASSWORD",
              "s3cret",
              c -> c.worker().gradioPassword(),
              "s3cret"));
      cases.add(new Case(app, "TEMPERA_SLOTS", "5", c -> c.worker().slots(), 5));
      cases.add(new Case(app, "TEMPERA_PREFETCH", "0", c -> c.worker().prefetch(), 0));
      cases.add(
          new Case(app, "TEMPERA_HOST_ID", "gpu-big-1", c -> c.worker().hostId(), "gpu-big-1"));
      cases.add(
          new Case(
              app,
              "TEMPERA_TIERS",
              "high,ultra",
              c -> c.worker().tiers(),
              List.of("high", "ultra")));
      cases.add(new Case(app, "TEMPERA_SLOT_POOL", "big", c -> c.worker().slotPool(), "big"));
      cases.add(
          new Case(
              app, "TEMPERA_HOST_TIMEOUT_SECONDS", "40", c -> c.worker().hostTimeoutSeconds(), 40));
      cases.add(
          new Case(
              app, "TEMPERA_DOCKER_ENABLED", "true", c -> c.worker().docker().enabled(), true));
      cases.add(
          new Case(
              app,
              "TEMPERA_DOCKER_IDLE_TIMEOUT",
              "2m",
              c -> c.worker().docker().idleTimeout(),
              Duration.ofMinutes(2)));
      cases.add(
          new Case(
              app,
              "TEMPERA_WORKER_GRADIO_RESTART_GRACE",
              "45s",
              c -> c.worker().gradioRestartGrace(),
              Duration.ofSeconds(45)));
      // Spring's relaxed binding of the property itself works as well
      cases.add(
          new Case(
              app,
              "TEMPERA_WORKER_GRADIO_URLS",
              "http://c:7860",
              c -> c.worker().gradioUrls(),
              List.of(URI.create("http://c:7860"))));
      cases.add(new Case(app, "TEMPERA_WORKER_SLOTS", "3", c -> c.worker().slots(), 3));
    }
    return cases;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("documented")
  void aDocumentedVariableSetsWhatReadmeSays(Case c) {
    try (ConfigurableApplicationContext context = start(c.app(), Map.of(c.variable(), c.value()))) {
      assertThat(c.read().apply(new Ctx(context))).isEqualTo(c.expected());
      if (c.variable().startsWith("TEMPERA_")) {
        assertThat(EnvironmentNames.of(context).isKnown(c.variable()))
            .as("%s is known to %s", c.variable(), c.app())
            .isTrue();
      }
    }
  }

  @Test
  void withoutTheVariablesTheDefaultsReadmeNamesApply() {
    try (ConfigurableApplicationContext context = start(App.EMBEDDED, Map.of())) {
      Ctx c = new Ctx(context);
      assertThat(c.worker().slots()).isEqualTo(2);
      assertThat(c.worker().prefetch()).isEqualTo(1);
      assertThat(c.worker().tiers()).isEqualTo(WorkerProperties.ALL_TIERS);
      assertThat(c.worker().slotPool()).isEqualTo("default");
      assertThat(c.worker().hostTimeoutSeconds()).isEqualTo(15);
      assertThat(c.property("server.port")).isEqualTo("8080");
      assertThat(c.property("tempera.tracing.enabled")).isEqualTo("false");
      assertThat(c.property(OTLP_TRACES)).isEqualTo("http://localhost:4318/v1/traces");
      assertThat(c.property("management.tracing.sampling.probability")).isEqualTo("1.0");
      assertThat(c.quotas().maxQueuedTotal()).isEqualTo(QuotaProperties.DEFAULT_MAX_QUEUED_TOTAL);
      assertThat(c.quotas().defaults()).isEqualTo(QuotaProperties.Limits.NONE);
      assertThat(c.quotas().pools()).containsExactly("default");
    }
    try (ConfigurableApplicationContext context = start(App.WORKER, Map.of())) {
      assertThat(new Ctx(context).worker().comfyuiUrls())
          .containsExactly(URI.create("http://127.0.0.1:8188"));
    }
  }

  static final Pattern NAME = Pattern.compile("\\bTEMPERA_[A-Z0-9_]*[A-Z0-9]\\b");

  /** The names a file documents; one shown as a typo ("TEMPERA_SLOT (did you mean …") is not. */
  static Set<String> namesIn(Path file) throws IOException {
    Set<String> names = new TreeSet<>();
    String text = Files.readString(file);
    Matcher m = NAME.matcher(text);
    while (m.find()) {
      if (!text.startsWith(" (did you mean", m.end())) {
        names.add(m.group());
      }
    }
    return names;
  }

  @Test
  void everyNameTheReadmesDocumentIsTestedAboveOrReadByTheScripts() throws IOException {
    Set<String> documented = new TreeSet<>(namesIn(Path.of("../README.md")));
    documented.addAll(namesIn(Path.of("../templates/README.md")));
    Set<String> tested = new TreeSet<>();
    documented().forEach(c -> tested.add(c.variable()));
    Set<String> known = new TreeSet<>();
    for (App app : App.values()) {
      try (ConfigurableApplicationContext context = start(app, Map.of())) {
        EnvironmentNames names = EnvironmentNames.of(context);
        documented.stream().filter(names::isKnown).forEach(known::add);
      }
    }
    assertThat(documented).isNotEmpty();
    for (String name : documented) {
      assertThat(tested.contains(name) || EnvironmentNames.TOOLS.contains(name))
          .as("%s is documented: test what it sets above, or it is the scripts' own", name)
          .isTrue();
      assertThat(known).as("%s is known to at least one application", name).contains(name);
    }
  }

  static final Pattern TABLE_PROPERTY = Pattern.compile("`(tempera\\.[a-z0-9.\\[\\]<>-]+)`");

  @Test
  void everyPropertyTheConfigurationTableDocumentsIsRead() throws IOException {
    Set<String> documented = new TreeSet<>();
    for (String line : Files.readAllLines(Path.of("../README.md"))) {
      if (line.startsWith("| `tempera.")) {
        Matcher m = TABLE_PROPERTY.matcher(line.substring(0, line.indexOf('|', 1)));
        while (m.find()) {
          documented.add(m.group(1).replaceAll("\\[[^]]*]", ""));
        }
      }
    }
    assertThat(documented).contains("tempera.worker.slots", "tempera.progress.redis-url");
    Set<String> read = new TreeSet<>();
    for (App app : App.values()) {
      try (ConfigurableApplicationContext context = start(app, Map.of())) {
        EnvironmentNames names = EnvironmentNames.of(context);
        documented.stream().filter(names::isProperty).forEach(read::add);
      }
    }
    assertThat(read).as("the properties some application reads").isEqualTo(documented);
  }

  @Test
  void anUnknownVariableIsNamedAtStartWithTheNearestKnownNameAndNothingFails(
      CapturedOutput output) {
    Map<String, Object> environment = new LinkedHashMap<>();
    environment.put("TEMPERA_SLOT", "4"); // a typo of TEMPERA_SLOTS
    environment.put("TEMPERA_GRADIO_URL", "http://a:7860"); // of TEMPERA_GRADIO_URLS
    environment.put("TEMPERA_WORKER_GRADIO_URLS", "http://b:7860"); // relaxed binding: known
    environment.put("TEMPERA_WORKER_GPUS_0_VRAM_MB", "8000"); // an element of a list: known
    environment.put("TEMPERA_CACHE_DIR", "/tmp/cache"); // the scripts': known
    environment.put("TEMPERA_SOMETHING_ELSE_ENTIRELY", "1");
    environment.put("PATH", "/usr/bin");
    try (ConfigurableApplicationContext context = start(App.EMBEDDED, environment)) {
      assertThat(new Ctx(context).worker().slots()).as("the typo changed nothing").isEqualTo(2);
      assertThat(new Ctx(context).worker().gpus()).hasSize(1);
    }
    List<String> warnings =
        output.getAll().lines().filter(l -> l.contains("Unknown TEMPERA_*")).toList();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0))
        .contains("WARN")
        .contains(
            "Unknown TEMPERA_* environment variables, which this application does not read:"
                + " TEMPERA_GRADIO_URL (did you mean TEMPERA_GRADIO_URLS?), TEMPERA_SLOT (did you"
                + " mean TEMPERA_SLOTS?), TEMPERA_SOMETHING_ELSE_ENTIRELY")
        .doesNotContain("TEMPERA_WORKER_GRADIO_URLS")
        .doesNotContain("TEMPERA_WORKER_GPUS")
        .doesNotContain("TEMPERA_CACHE_DIR");
  }
}
