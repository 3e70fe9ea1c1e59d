package io.tempera.config;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.ConfigurationPropertiesBean;
import org.springframework.boot.env.OriginTrackedMapPropertySource;
import org.springframework.context.ApplicationContext;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.EnumerablePropertySource;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * The {@code TEMPERA_*} environment variables an application reads, and the warning at start that
 * names those it does not (a typo such as {@code TEMPERA_SLOT} otherwise changes nothing,
 * silently).
 *
 * <p>What is known comes from what the application really reads, never from a list kept apart:
 *
 * <ul>
 *   <li>the placeholders of its own config file ({@code slots: ${TEMPERA_SLOTS:2}} in {@code
 *       tempera-worker.yml});
 *   <li>Spring's relaxed binding of the {@code tempera.*} properties it binds: every property of
 *       its {@code @ConfigurationProperties} beans, every {@code tempera.*} key of its config file,
 *       and the few read with {@code @Value} ({@link #VALUE_PROPERTIES}); so {@code
 *       TEMPERA_WORKER_GRADIO_URLS} (and {@code TEMPERA_WORKER_GRADIOURLS}) is known as {@code
 *       tempera.worker.gradio-urls}, and {@code TEMPERA_WORKER_GPUS_0_INDEX} as an element of
 *       {@code tempera.worker.gpus};
 *   <li>the variables the {@code tempera} script, {@code scripts/}, the test apps and the
 *       benchmarks read, which a shell may well export while starting an app ({@link #TOOLS}).
 * </ul>
 */
public final class EnvironmentNames {

  private static final Logger log = LoggerFactory.getLogger(EnvironmentNames.class);

  /** Variables read by the tempera script, scripts/, the testkit's apps and the benchmarks. */
  public static final Set<String> TOOLS =
      Set.of(
          "TEMPERA_API_KEY",
          "TEMPERA_OTHER_API_KEY",
          "TEMPERA_PAGE_API_KEY",
          "TEMPERA_CACHE_DIR",
          "TEMPERA_CELERY_BROKER",
          "TEMPERA_CELERY_OUT",
          "TEMPERA_CELERY_PYTHON",
          "TEMPERA_CHROMIUM",
          "TEMPERA_CLUSTER_DIR",
          "TEMPERA_COMFYUI_ARGS",
          "TEMPERA_COMFYUI_HOME",
          "TEMPERA_COMFYUI_MODELS",
          "TEMPERA_COMFYUI_PORT",
          "TEMPERA_COMFYUI_URL",
          "TEMPERA_COMFY_URL",
          "TEMPERA_APP_REVISION",
          "TEMPERA_GO_TOOLCHAIN",
          "TEMPERA_GRADIO_AUTH",
          "TEMPERA_GRADIO_PORT",
          "TEMPERA_GRADIO_PYTHON",
          "TEMPERA_GRADIO_PYTHON_4",
          "TEMPERA_GRADIO_PYTHON_5",
          "TEMPERA_GRADIO_PYTHON_6",
          "TEMPERA_MODEL",
          "TEMPERA_NGINX",
          "TEMPERA_PORT",
          "TEMPERA_QUEUE_WARMUP",
          "TEMPERA_RESTART_PHASE",
          "TEMPERA_RESTART_STATE",
          "TEMPERA_SCREENSHOT",
          "TEMPERA_SKIP_CONTAINERS",
          "TEMPERA_TEMPORAL_CLI",
          "TEMPERA_TEMPORAL_PORT",
          "TEMPERA_TEMPORAL_RETENTION",
          "TEMPERA_TEMPORAL_UI_PORT",
          "TEMPERA_URL");

  /** {@code tempera.*} properties the applications read with {@code @Value}, not a bound class. */
  public static final Set<String> VALUE_PROPERTIES =
      Set.of(
          "tempera.progress.redis-url",
          "tempera.canvas.max-followed-tasks",
          "tempera.batches.max-size",
          "tempera.batches.max-in-flight",
          "tempera.temporal-kind",
          "tempera.embedded.comfyui-url",
          "tempera.embedded.comfyui-port",
          "tempera.embedded.comfyui-data");

  /** A suggestion is made only for a known name at most this many edits away. */
  static final int NEAREST = 3;

  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{(TEMPERA_[A-Z0-9_]+)");

  private final Set<String> names = new TreeSet<>();
  private final Set<String> exact = new TreeSet<>();
  private final Set<String> prefixes = new TreeSet<>();
  private final Set<String> properties = new TreeSet<>();
  private final Set<String> collections = new TreeSet<>();

  private EnvironmentNames() {}

  /**
   * The names known to an application: those its config files name in placeholders ({@code
   * placeholders}), the relaxed forms of {@code properties} (property names in Spring's canonical
   * form; {@code collections} also take indexed or keyed elements) and {@link #TOOLS}.
   */
  public static EnvironmentNames of(
      Collection<String> placeholders,
      Collection<String> properties,
      Collection<String> collections) {
    EnvironmentNames known = new EnvironmentNames();
    known.names.addAll(TOOLS);
    known.names.addAll(placeholders);
    known.exact.addAll(known.names);
    known.properties.addAll(properties);
    known.collections.addAll(collections);
    for (String property : properties) {
      known.exact.addAll(forms(property));
      known.names.add(legacyForm(property));
    }
    for (String property : collections) {
      for (String form : forms(property)) {
        known.exact.add(form);
        known.prefixes.add(form + "_");
      }
      known.names.add(legacyForm(property));
    }
    return known;
  }

  /** What the running application reads: its config files, its bound properties, the tools. */
  public static EnvironmentNames of(ApplicationContext context) {
    ConfigurableEnvironment environment = (ConfigurableEnvironment) context.getEnvironment();
    Set<String> placeholders = new TreeSet<>();
    Set<String> properties = new TreeSet<>(VALUE_PROPERTIES);
    Set<String> collections = new TreeSet<>();
    for (PropertySource<?> source : environment.getPropertySources()) {
      if (!(source instanceof OriginTrackedMapPropertySource file)) {
        continue; // only the application's own config files
      }
      for (String key : file.getPropertyNames()) {
        Object raw = file.getProperty(key);
        if (raw != null) {
          Matcher m = PLACEHOLDER.matcher(raw.toString());
          while (m.find()) {
            placeholders.add(m.group(1));
          }
        }
        if (key.startsWith("tempera.") && !key.contains("[")) {
          properties.add(key);
        }
      }
    }
    for (ConfigurationPropertiesBean bean : ConfigurationPropertiesBean.getAll(context).values()) {
      String prefix = bean.getAnnotation().prefix();
      if (prefix.isEmpty()) {
        prefix = bean.getAnnotation().value();
      }
      if (prefix.equals("tempera") || prefix.startsWith("tempera.")) {
        walk(bean.getInstance().getClass(), prefix, properties, collections, 0);
      }
    }
    return of(placeholders, properties, collections);
  }

  /** The properties of a bound record, nested records followed. */
  static void walk(
      Class<?> type,
      String prefix,
      Collection<String> properties,
      Collection<String> collections,
      int depth) {
    if (!type.isRecord() || depth > 5) {
      properties.add(prefix);
      return;
    }
    for (RecordComponent component : type.getRecordComponents()) {
      String name = prefix + "." + dashed(component.getName());
      Class<?> raw = component.getType();
      if (Collection.class.isAssignableFrom(raw)
          || Map.class.isAssignableFrom(raw)
          || raw.isArray()) {
        collections.add(name);
      } else if (raw.isRecord() && !raw.getName().startsWith("java.")) {
        walk(raw, name, properties, collections, depth + 1);
      } else {
        properties.add(name);
      }
    }
  }

  /** {@code comfyuiUrls} → {@code comfyui-urls}, as Spring names a property. */
  static String dashed(String camel) {
    StringBuilder out = new StringBuilder();
    for (char c : camel.toCharArray()) {
      if (Character.isUpperCase(c)) {
        out.append('-').append(Character.toLowerCase(c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /**
   * The environment variable names Spring binds to a property: dashes dropped ({@code
   * TEMPERA_WORKER_GRADIOURLS}) or turned into underscores ({@code TEMPERA_WORKER_GRADIO_URLS}).
   */
  static List<String> forms(String property) {
    return List.of(
        property.replace("-", "").replace('.', '_').toUpperCase(Locale.ROOT), legacyForm(property));
  }

  static String legacyForm(String property) {
    return property.replace('-', '_').replace('.', '_').toUpperCase(Locale.ROOT);
  }

  /**
   * True when the application reads {@code property} ({@code tempera.worker.gradio-urls}; an
   * element such as {@code tempera.worker.gpus[0].index} counts for its list).
   */
  public boolean isProperty(String property) {
    String plain = property.replaceAll("\\[[^]]*]", "");
    if (properties.contains(plain) || collections.contains(plain)) {
      return true;
    }
    for (String collection : collections) {
      if (plain.startsWith(collection + ".")) {
        return true;
      }
    }
    return false;
  }

  public boolean isKnown(String variable) {
    if (exact.contains(variable)) {
      return true;
    }
    for (String prefix : prefixes) {
      if (variable.startsWith(prefix)) {
        return true;
      }
    }
    return false;
  }

  /** The known name nearest to {@code variable}, at most {@link #NEAREST} edits away. */
  public Optional<String> nearest(String variable) {
    String best = null;
    int bestDistance = NEAREST + 1;
    for (String name : names) {
      int d = distance(variable, name);
      if (d < bestDistance) {
        best = name;
        bestDistance = d;
      }
    }
    return Optional.ofNullable(best);
  }

  /** The {@code TEMPERA_*} variables of {@code environment} this application does not read. */
  public List<String> unknown(Map<String, ?> environment) {
    List<String> out = new ArrayList<>();
    for (String variable : new TreeSet<>(environment.keySet())) {
      if (variable.startsWith("TEMPERA_") && !isKnown(variable)) {
        out.add(variable);
      }
    }
    return out;
  }

  /** The warning for {@code unknown} variables, each with its nearest known name; null: none. */
  public String warning(List<String> unknown) {
    if (unknown.isEmpty()) {
      return null;
    }
    List<String> named = new ArrayList<>();
    for (String variable : unknown) {
      named.add(
          nearest(variable).map(n -> variable + " (did you mean " + n + "?)").orElse(variable));
    }
    return "Unknown TEMPERA_* environment variable"
        + (unknown.size() == 1 ? "" : "s")
        + ", which this application does not read: "
        + String.join(", ", named)
        + " (README, Configuration, lists the names)";
  }

  /** Logs the warning for the application's environment, if any variable is unknown. */
  public static void warnAboutUnknown(ApplicationContext context) {
    ConfigurableEnvironment environment = (ConfigurableEnvironment) context.getEnvironment();
    PropertySource<?> system =
        environment
            .getPropertySources()
            .get(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME);
    Map<String, ?> variables =
        system instanceof MapPropertySource map
            ? map.getSource()
            : system instanceof EnumerablePropertySource<?> e
                ? java.util.Arrays.stream(e.getPropertyNames())
                    .collect(java.util.stream.Collectors.toMap(n -> n, n -> "")) // names only
                : environment.getSystemEnvironment();
    EnvironmentNames known = of(context);
    String warning = known.warning(known.unknown(variables));
    if (warning != null) {
      log.warn(warning);
    }
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j] + 1, current[j - 1] + 1));
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }

  /** For tests and logs: the names a suggestion may be drawn from. */
  Set<String> names() {
    return java.util.Collections.unmodifiableSet(names);
  }
}
