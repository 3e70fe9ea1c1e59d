package io.tempera.observability;

import java.util.Locale;
import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * {@code tempera.log-format} ({@code TEMPERA_LOG_FORMAT}): {@code text} (the default: Spring Boot's
 * console lines), {@code json} (one JSON object a line, Logstash's fields, each MDC key a field:
 * {@code generationId}, {@code projectId}, {@code functionId}, {@code tier}, {@code WorkflowId},
 * {@code Attempt}, …), or {@code ecs} (Elastic Common Schema). Sets Spring Boot's structured
 * logging ({@code logging.structured.format.console}) before logging starts; an unknown value fails
 * the start naming the ones there are.
 */
public final class LogFormat implements EnvironmentPostProcessor, Ordered {

  public static final String PROPERTY = "tempera.log-format";

  private static final Map<String, String> STRUCTURED =
      Map.of("json", "logstash", "logstash", "logstash", "ecs", "ecs");

  @Override
  public void postProcessEnvironment(
      ConfigurableEnvironment environment, SpringApplication application) {
    String value = environment.getProperty(PROPERTY, "text").trim().toLowerCase(Locale.ROOT);
    if (value.isEmpty() || value.equals("text")) {
      return;
    }
    String format = STRUCTURED.get(value);
    if (format == null) {
      throw new IllegalStateException(
          PROPERTY + " (TEMPERA_LOG_FORMAT) is '" + value + "': it is text, json or ecs");
    }
    environment
        .getPropertySources()
        .addFirst(
            new MapPropertySource(
                "tempera-log-format", Map.of("logging.structured.format.console", format)));
  }

  /** After the config files are read (their {@code tempera.log-format}), before logging starts. */
  @Override
  public int getOrder() {
    return Ordered.LOWEST_PRECEDENCE;
  }
}
