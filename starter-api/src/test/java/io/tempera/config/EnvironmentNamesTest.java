package io.tempera.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Which {@code TEMPERA_*} variables count as known, the nearest-name suggestion, and that the lists
 * it keeps ({@link EnvironmentNames#TOOLS}, {@link EnvironmentNames#VALUE_PROPERTIES}) match what
 * the repository's scripts and sources really read.
 */
class EnvironmentNamesTest {

  static EnvironmentNames apiLike() {
    List<String> properties = new ArrayList<>(EnvironmentNames.VALUE_PROPERTIES);
    List<String> collections = new ArrayList<>();
    EnvironmentNames.walk(TemperaProperties.class, "tempera", properties, collections, 0);
    properties.add("tempera.worker.slots");
    collections.add("tempera.worker.gradio-urls");
    collections.add("tempera.worker.gpus");
    return EnvironmentNames.of(
        List.of("TEMPERA_SLOTS", "TEMPERA_COMFYUI_URLS", "TEMPERA_GRADIO_URLS"),
        properties,
        collections);
  }

  @Test
  void theBoundPropertiesAreWalkedAsSpringNamesThem() {
    List<String> properties = new ArrayList<>();
    List<String> collections = new ArrayList<>();
    EnvironmentNames.walk(TemperaProperties.class, "tempera", properties, collections, 0);
    assertThat(properties)
        .contains(
            "tempera.output-root",
            "tempera.templates-dir",
            "tempera.templates-recheck-millis",
            "tempera.node-catalogue.enabled",
            "tempera.node-catalogue.refresh");
    assertThat(properties)
        .contains("tempera.security.keys-file", "tempera.security.signed-url-ttl");
    assertThat(collections)
        .containsExactly(
            "tempera.node-catalogue.comfyui-urls",
            "tempera.security.allowed-origins",
            "tempera.encryption.keys");
    assertThat(properties)
        .contains("tempera.encryption.enabled", "tempera.encryption.current-key-id");
    assertThat(EnvironmentNames.forms("tempera.worker.gradio-urls"))
        .containsExactly("TEMPERA_WORKER_GRADIOURLS", "TEMPERA_WORKER_GRADIO_URLS");
  }

  @Test
  void placeholdersRelaxedNamesListElementsAndTheScriptsNamesAreKnown() {
    EnvironmentNames known = apiLike();
    assertThat(known.isKnown("TEMPERA_SLOTS")).as("a config file's placeholder").isTrue();
    assertThat(known.isKnown("TEMPERA_WORKER_SLOTS")).as("relaxed binding").isTrue();
    assertThat(known.isKnown("TEMPERA_WORKER_GRADIO_URLS")).isTrue();
    assertThat(known.isKnown("TEMPERA_WORKER_GRADIOURLS")).isTrue();
    assertThat(known.isKnown("TEMPERA_WORKER_GRADIO_URLS_0")).as("an element").isTrue();
    assertThat(known.isKnown("TEMPERA_WORKER_GPUS_1_VRAM_MB")).isTrue();
    assertThat(known.isKnown("TEMPERA_OUTPUT_ROOT")).isTrue();
    assertThat(known.isKnown("TEMPERA_NODE_CATALOGUE_REFRESH")).isTrue();
    assertThat(known.isKnown("TEMPERA_PROGRESS_REDIS_URL")).as("read by @Value").isTrue();
    assertThat(known.isKnown("TEMPERA_CACHE_DIR")).as("the scripts'").isTrue();
    assertThat(known.isKnown("TEMPERA_ENCRYPTION_ENABLED")).isTrue();
    assertThat(known.isKnown("TEMPERA_ENCRYPTION_CURRENT_KEY_ID")).isTrue();
    assertThat(known.isKnown("TEMPERA_ENCRYPTION_KEYS_K2026")).as("a key of the map").isTrue();
    assertThat(known.isKnown("TEMPERA_SLOT")).isFalse();
    assertThat(known.isKnown("TEMPERA_WORKER_SLOTSS")).isFalse();
    assertThat(known.isKnown("TEMPERA_WORKER_GRADIO")).isFalse();
    assertThat(known.isProperty("tempera.worker.gpus[0].vram-mb")).isTrue();
    assertThat(known.isProperty("tempera.worker.gradio-restart")).isFalse();
  }

  @Test
  void theWarningNamesEachUnknownVariableWithTheNearestKnownName() {
    EnvironmentNames known = apiLike();
    Map<String, String> environment =
        Map.of(
            "TEMPERA_SLOT", "3",
            "TEMPERA_COMFYUI_URSL", "http://a:8188",
            "TEMPERA_QUITE_DIFFERENT", "1",
            "TEMPERA_SLOTS", "3",
            "HOME", "/root");
    List<String> unknown = known.unknown(environment);
    assertThat(unknown)
        .containsExactly("TEMPERA_COMFYUI_URSL", "TEMPERA_QUITE_DIFFERENT", "TEMPERA_SLOT");
    assertThat(known.nearest("TEMPERA_SLOT")).contains("TEMPERA_SLOTS");
    assertThat(known.nearest("TEMPERA_COMFYUI_URSL")).contains("TEMPERA_COMFYUI_URL");
    assertThat(known.nearest("TEMPERA_QUITE_DIFFERENT")).isEmpty();
    assertThat(known.warning(unknown))
        .isEqualTo(
            "Unknown TEMPERA_* environment variables, which this application does not read:"
                + " TEMPERA_COMFYUI_URSL (did you mean TEMPERA_COMFYUI_URL?),"
                + " TEMPERA_QUITE_DIFFERENT, TEMPERA_SLOT (did you mean TEMPERA_SLOTS?) (README,"
                + " Configuration, lists the names)");
    assertThat(known.warning(List.of())).isNull();
    assertThat(EnvironmentNames.distance("TEMPERA_SLOT", "TEMPERA_SLOTS")).isEqualTo(1);
    assertThat(EnvironmentNames.distance("kitten", "sitting")).isEqualTo(3);
    assertThat(EnvironmentNames.distance("", "abc")).isEqualTo(3);
  }

  static final Pattern NAME = Pattern.compile("TEMPERA_[A-Z0-9_]*[A-Z0-9]");

  /** The TEMPERA_* names in the files under {@code roots} (node_modules and target left out). */
  static Set<String> namesIn(List<Path> roots) throws IOException {
    Set<String> names = new TreeSet<>();
    for (Path root : roots) {
      if (!Files.exists(root)) {
        continue;
      }
      try (Stream<Path> files = Files.walk(root)) {
        for (Path file :
            files
                .filter(Files::isRegularFile)
                .filter(f -> !f.toString().contains("node_modules"))
                .filter(f -> !f.toString().contains("/target/"))
                .filter(f ->
                    f.toString().matches(".*\\.(sh|py|java|ts|json|yml)$") || f.endsWith("tempera"))
                .filter(f -> !f.getFileName().toString().equals("package-lock.json"))
                .toList()) {
          Matcher m = NAME.matcher(Files.readString(file));
          while (m.find()) {
            names.add(m.group());
          }
        }
      }
    }
    return names;
  }

  static final List<Path> TOOL_FILES =
      List.of(
          Path.of("../tempera"),
          Path.of("../scripts"),
          Path.of("../testkit/gradio"),
          Path.of("../testkit/src/main"),
          Path.of("../bench/src/main"),
          Path.of("../bench/celery"),
          Path.of("../clients/web/src"),
          Path.of("../clients/web/tests"),
          Path.of("../clients/web/vite.config.ts"),
          Path.of("../clients/web/vitest.browser.config.ts"),
          Path.of("../clients/typescript/src"),
          Path.of("../clients/typescript/tests"),
          Path.of("../templates/models"));

  static final List<Path> CONFIG_FILES =
      List.of(
          Path.of("src/main/resources/tempera-api.yml"),
          Path.of("../worker-app/src/main/resources/tempera-worker.yml"),
          Path.of("../embedded/src/main/resources/tempera-embedded.yml"));

  @Test
  void theToolsListIsWhatTheScriptsTestAppsAndBenchmarksName() throws IOException {
    Set<String> inTools = namesIn(TOOL_FILES);
    Set<String> inConfig = namesIn(CONFIG_FILES);
    Set<String> missing = new TreeSet<>(inTools);
    missing.removeAll(EnvironmentNames.TOOLS);
    missing.removeAll(inConfig); // what the scripts hand to an application, which reads it
    assertThat(missing).as("named by the scripts but in no list").isEmpty();
    Set<String> stale = new TreeSet<>(EnvironmentNames.TOOLS);
    stale.removeAll(inTools);
    assertThat(stale).as("in TOOLS but named by no script").isEmpty();
  }

  static final Pattern VALUE = Pattern.compile("\\$\\{(tempera\\.[a-z0-9.-]+)");

  @Test
  void theValuePropertiesAreEveryTemperaPropertyTheSourcesReadByPlaceholder() throws IOException {
    Set<String> read = new TreeSet<>();
    for (Path root :
        List.of(
            Path.of("src/main/java"),
            Path.of("../worker-app/src/main/java"),
            Path.of("../embedded/src/main/java"))) {
      try (Stream<Path> files = Files.walk(root)) {
        for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
          String text = Files.readString(file);
          Matcher m = VALUE.matcher(text);
          while (m.find()) {
            read.add(m.group(1));
          }
          if (text.contains("COMFYUI_URL = \"tempera.embedded.comfyui-url\"")) {
            read.add("tempera.embedded.comfyui-url");
          }
        }
      }
    }
    // those of the bound classes need no listing
    List<String> bound = new ArrayList<>();
    EnvironmentNames.walk(TemperaProperties.class, "tempera", bound, bound, 0);
    read.removeAll(bound);
    assertThat(read).isEqualTo(EnvironmentNames.VALUE_PROPERTIES);
  }
}
