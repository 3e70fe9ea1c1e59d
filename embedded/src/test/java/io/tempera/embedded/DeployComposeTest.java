package io.tempera.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.config.EnvironmentNames;
import io.tempera.config.TemperaProperties;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.context.ConfigurableApplicationContext;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * {@code deploy/compose/docker-compose.yml} sets only what its programs read: the API and worker
 * services' variables are loaded into the apps' own configuration (as Spring Boot loads it) and
 * each must be one they read — and bind to what the file means; the Temporal services' variables
 * must be read by the server's configuration template or by {@code scripts/cluster.sh};
 * PostgreSQL's user and password must be the server's. The compose file itself is not started here
 * (its base images come from a registry); the cluster stage runs the same server and configuration.
 */
class DeployComposeTest {

  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  /**
   * Variables the UI server reads (temporalio/ui-server 2.58.1, {@code config/docker.yaml}, which
   * {@code scripts/ensure-temporal-server.sh} installs as its configuration).
   */
  private static final Set<String> UI_SERVER_READS =
      Set.of(
          "TEMPORAL_ADDRESS",
          "TEMPORAL_UI_PORT",
          "TEMPORAL_CODEC_ENDPOINT",
          "TEMPORAL_DEFAULT_NAMESPACE",
          "TEMPORAL_CORS_ORIGINS",
          "TEMPORAL_UI_PUBLIC_PATH");

  /** The non-TEMPERA variables the apps read, and the property each sets. */
  private static final Map<String, String> APP_READS =
      Map.of(
          "TEMPORAL_ADDRESS", "spring.temporal.connection.target",
          "TEMPORAL_NAMESPACE", "spring.temporal.namespace");

  @SuppressWarnings("unchecked")
  static Map<String, Map<String, Object>> services() throws IOException {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    Map<String, Object> compose =
        new Yaml(new SafeConstructor(options))
            .load(
                Files.readString(
                    ROOT.resolve("deploy/compose/docker-compose.yml"), StandardCharsets.UTF_8));
    return (Map<String, Map<String, Object>>) compose.get("services");
  }

  static Map<String, String> environment(Map<String, Object> service) {
    Map<String, String> env = new LinkedHashMap<>();
    Object raw = service.get("environment");
    if (raw instanceof Map<?, ?> map) {
      map.forEach((k, v) -> env.put(k.toString(), v == null ? "" : v.toString()));
    }
    return env;
  }

  static Stream<String> appServices() throws IOException {
    return services().entrySet().stream()
        .filter(e ->
            e.getValue().get("image").toString().startsWith("tempera/api")
                || e.getValue().get("image").toString().startsWith("tempera/worker"))
        .map(Map.Entry::getKey);
  }

  @Test
  void theFileHasWhatTheIssueAsksFor() throws IOException {
    Map<String, Map<String, Object>> services = services();
    assertThat(services)
        .containsKeys(
            "postgresql", "temporal", "temporal-ui", "redis", "api", "lb", "gpu-1-worker");
    assertThat(appServices()).contains("api", "gpu-1-worker");
    @SuppressWarnings("unchecked")
    Map<String, Object> deploy = (Map<String, Object>) services.get("api").get("deploy");
    assertThat(deploy).containsEntry("replicas", 2);
  }

  @ParameterizedTest
  @MethodSource("appServices")
  void everyVariableOfAnAppServiceIsReadByThatAppAndBindsAsMeant(String name) throws IOException {
    Map<String, Object> service = services().get(name);
    DocumentedEnvironmentNamesTest.App app =
        service.get("image").toString().startsWith("tempera/api")
            ? DocumentedEnvironmentNamesTest.App.API
            : DocumentedEnvironmentNamesTest.App.WORKER;
    Map<String, String> env = environment(service);
    assertThat(env).isNotEmpty();
    try (ConfigurableApplicationContext context =
        DocumentedEnvironmentNamesTest.start(app, Map.copyOf(env))) {
      EnvironmentNames names = EnvironmentNames.of(context);
      List<String> unread = new ArrayList<>();
      for (String variable : env.keySet()) {
        boolean read =
            variable.startsWith("TEMPERA_")
                ? names.isKnown(variable)
                : APP_READS.containsKey(variable);
        if (!read) {
          unread.add(variable);
        }
      }
      assertThat(unread).as("variables of %s that %s does not read", name, app).isEmpty();
      for (Map.Entry<String, String> read : APP_READS.entrySet()) {
        if (env.containsKey(read.getKey())) {
          assertThat(context.getEnvironment().getProperty(read.getValue()))
              .as("%s of %s", read.getKey(), name)
              .isEqualTo(env.get(read.getKey()));
        }
      }
      TemperaProperties tempera = context.getBean(TemperaProperties.class);
      assertThat(tempera.outputRoot()).isEqualTo(Path.of(env.get("TEMPERA_OUTPUT_ROOT")));
      assertThat(tempera.templatesDir()).isEqualTo(Path.of(env.get("TEMPERA_TEMPLATES_DIR")));
      assertThat(context.getEnvironment().getProperty("tempera.progress.redis-url"))
          .isEqualTo(env.get("TEMPERA_PROGRESS_REDIS_URL"));
      if (env.containsKey("TEMPERA_SEARCH_ATTRIBUTES")) {
        assertThat(tempera.searchAttributes())
            .isEqualTo(Boolean.parseBoolean(env.get("TEMPERA_SEARCH_ATTRIBUTES")));
      }
    }
  }

  @Test
  void everyVariableOfTheTemporalServicesIsReadByTheirProgram() throws IOException {
    String template =
        Files.readString(
            ROOT.resolve("deploy/cluster/temporal-server.yaml"), StandardCharsets.UTF_8);
    String script = Files.readString(ROOT.resolve("scripts/cluster.sh"), StandardCharsets.UTF_8);
    int checked = 0;
    for (Map.Entry<String, Map<String, Object>> service : services().entrySet()) {
      if (!service.getValue().get("image").toString().startsWith("tempera/temporal")) {
        continue;
      }
      @SuppressWarnings("unchecked")
      String command = ((List<Object>) service.getValue().get("command")).get(0).toString();
      assertThat(command)
          .as("%s runs a part of scripts/cluster.sh", service.getKey())
          .isIn("schema", "server", "register", "ui", "probe");
      assertThat(script).contains("  " + command + ") cmd_" + command + " ;;");
      for (String variable : environment(service.getValue()).keySet()) {
        boolean read =
            switch (command) {
              case "server" ->
                  template.contains("(env \"" + variable + "\")") || readByScript(script, variable);
              case "ui" -> UI_SERVER_READS.contains(variable) || readByScript(script, variable);
              default -> readByScript(script, variable);
            };
        assertThat(read)
            .as("%s (%s) sets %s, which it does not read", service.getKey(), command, variable)
            .isTrue();
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(10);
  }

  @Test
  void postgresUserAndPasswordAreTheServers() throws IOException {
    Map<String, Map<String, Object>> services = services();
    Map<String, String> db = environment(services.get("postgresql"));
    for (String name : List.of("temporal", "temporal-schema")) {
      Map<String, String> env = environment(services.get(name));
      assertThat(env).containsEntry("TEMPORAL_DB_USER", db.get("POSTGRES_USER"));
      assertThat(env).containsEntry("TEMPORAL_DB_PASSWORD", db.get("POSTGRES_PASSWORD"));
      assertThat(env).containsEntry("TEMPORAL_DB_HOST", "postgresql");
    }
  }

  private static boolean readByScript(String script, String variable) {
    return Pattern.compile("\\$\\{?" + Pattern.quote(variable) + "\\b").matcher(script).find();
  }
}
