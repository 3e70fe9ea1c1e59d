package io.tempera.embedded;

import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import io.tempera.worker.ComfyUiUrls;
import io.temporal.api.enums.v1.IndexedValueType;
import io.temporal.testing.TestWorkflowEnvironment;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * The embedded default backend: the testkit ComfyUI server, in process, no GPU needed; or, when
 * {@code tempera.embedded.comfyui-url} is set ({@code TEMPERA_COMFYUI_URL}, or several
 * comma-separated in {@code TEMPERA_COMFYUI_URLS}), that ComfyUI and no testkit server.
 */
@Configuration(proxyBeanMethods = false)
public class EmbeddedConfiguration {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedConfiguration.class);

  /** The property naming the ComfyUI servers the embedded worker uses instead of the testkit. */
  public static final String COMFYUI_URL = "tempera.embedded.comfyui-url";

  /** True when the embedded default runs on a ComfyUI of the user's own. */
  static final class OwnComfyUi implements Condition {
    @Override
    public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
      String urls = context.getEnvironment().getProperty(COMFYUI_URL);
      return urls != null && !urls.isBlank();
    }
  }

  /** True when the embedded default runs the testkit ComfyUI server in process. */
  static final class TestkitComfyUi implements Condition {
    @Override
    public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
      return !new OwnComfyUi().matches(context, metadata);
    }
  }

  /**
   * The in-process Temporal server runs on real time: time skipping, a testing aid, would let an
   * idle system jump ahead to the slot allocator's run timeout (and fire every timer early).
   */
  @Bean
  public io.temporal.spring.boot.TemporalOptionsCustomizer<
          io.temporal.testing.TestEnvironmentOptions.Builder>
      realTime() {
    return options -> options.setUseTimeskipping(false);
  }

  @Bean(destroyMethod = "close")
  @Conditional(TestkitComfyUi.class)
  public ComfyUiTestServer embeddedComfyUi(
      @Value("${tempera.embedded.comfyui-port:8188}") int port,
      @Value("${tempera.embedded.comfyui-data:.tempera/comfyui}") Path dataDir) {
    return ComfyUiTestServer.start(new ComfyUiTestServer.Config(port, dataDir, "127.0.0.1"));
  }

  /** The worker's ComfyUI backend runs on the in-process testkit server. */
  @Bean
  @Conditional(TestkitComfyUi.class)
  public ComfyUiUrls embeddedComfyUiUrls(ComfyUiTestServer embeddedComfyUi) {
    log.info(
        "ComfyUI: the in-process testkit server at {} (CPU image nodes only; set TEMPERA_COMFYUI_URL"
            + " to run on a ComfyUI of your own)",
        embeddedComfyUi.baseUrl());
    return () -> List.of(embeddedComfyUi.baseUrl());
  }

  /**
   * The worker's ComfyUI backend runs on the user's ComfyUI ({@code TEMPERA_COMFYUI_URL}); no
   * testkit server is started. The start-up log says which, and whether it answers.
   */
  @Bean
  @Conditional(OwnComfyUi.class)
  public ComfyUiUrls ownComfyUiUrls(@Value("${" + COMFYUI_URL + "}") String configured) {
    List<URI> urls = parseUrls(configured);
    for (URI url : urls) {
      log.info("ComfyUI: {} (TEMPERA_COMFYUI_URL); no testkit server started; {}", url, probe(url));
    }
    return () -> urls;
  }

  /** Comma-separated base URLs, each http(s) with a host. */
  static List<URI> parseUrls(String configured) {
    List<URI> urls = new java.util.ArrayList<>();
    for (String given : configured.split(",")) {
      String text = given.strip();
      if (text.isEmpty()) {
        continue;
      }
      URI url = null;
      try {
        url = URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
      } catch (IllegalArgumentException notAUri) {
        // reported below
      }
      if (url == null
          || url.getHost() == null
          || !("http".equals(url.getScheme()) || "https".equals(url.getScheme()))) {
        throw new IllegalArgumentException(
            "TEMPERA_COMFYUI_URL must be http(s)://host:port, got '" + text + "'");
      }
      urls.add(url);
    }
    return List.copyOf(urls);
  }

  /** What the server says about itself, or that it does not answer yet (never fails start-up). */
  static String probe(URI url) {
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(url.resolve("/system_stats"))
                  .timeout(Duration.ofSeconds(3))
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() != 200) {
        return "it answers /system_stats with HTTP " + response.statusCode();
      }
      com.fasterxml.jackson.databind.JsonNode stats =
          new com.fasterxml.jackson.databind.ObjectMapper().readTree(response.body());
      String version = stats.path("system").path("comfyui_version").asText("");
      String device = stats.path("devices").path(0).path("name").asText("");
      return "it answers"
          + (version.isEmpty() ? "" : " (ComfyUI " + version + ")")
          + (device.isEmpty() ? "" : " on " + device);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "not asked";
    } catch (Exception e) {
      return "it does not answer yet (" + e.getClass().getSimpleName() + ")";
    }
  }

  /**
   * On the in-process server, before it stops: every ended generation nobody read yet is recorded
   * in the output store, so that it is still listed and served after a restart (with a real server,
   * Temporal keeps them).
   */
  @Bean
  public org.springframework.context.SmartLifecycle recordEndedBeforeStopping(
      ObjectProvider<TestWorkflowEnvironment> temporal,
      ObjectProvider<io.tempera.api.GenerationHistory> history) {
    return new org.springframework.context.SmartLifecycle() {
      private volatile boolean running;

      @Override
      public void start() {
        running = true;
      }

      @Override
      public void stop() {
        running = false;
        if (temporal.getIfAvailable() == null || history.getIfAvailable() == null) {
          return;
        }
        try {
          int recorded = history.getObject().recordAllEnded(Duration.ofSeconds(30));
          log.info(
              "Recorded {} finished generation(s) in the output store before the in-process"
                  + " Temporal server stops",
              recorded);
        } catch (RuntimeException e) {
          log.warn("Could not record the finished generations before stopping: {}", e.toString());
        }
      }

      @Override
      public boolean isRunning() {
        return running;
      }
    };
  }

  /**
   * Registers the Tempera* search attributes on the in-process Temporal server (with a real server,
   * {@code ./tempera run --temporal} registers them with the Temporal CLI).
   */
  @Bean
  public SmartInitializingSingleton registerSearchAttributes(
      ObjectProvider<TestWorkflowEnvironment> temporal,
      @Value("${spring.temporal.connection.target:}") String target) {
    return () -> {
      TestWorkflowEnvironment env = temporal.getIfAvailable();
      if (env == null) {
        log.info(
            "Temporal: the server at {}; generations, their states and outputs are kept across"
                + " restarts as long as it keeps them",
            target.isBlank() ? "the configured address" : target);
        return;
      }
      log.warn(
          "Temporal: the IN-PROCESS TEST SERVER. Generations live in this process's memory: after a"
              + " restart, running ones are gone and finished ones are read back from the output"
              + " store's records. ./tempera run uses the Temporal CLI's dev server"
              + " (.tempera/temporal.db) whenever it can install it.");
      GenerationSearchAttributes.ALL.forEach(key ->
          env.registerSearchAttribute(key.getName(), IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD));
    };
  }
}
