package io.tempera.testkit.comfyui;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The pixel and file details TestkitFidelityRealComfyUiIT measured on the real ComfyUI, kept here
 * without it (testkit/FIDELITY.md).
 */
class ImageOpsTest {

  static int[] saved(FloatImage image, int x, int y) {
    return new int[] {
      FloatImage.toByte(image.get(x, y, 0)),
      FloatImage.toByte(image.get(x, y, 1)),
      FloatImage.toByte(image.get(x, y, 2))
    };
  }

  @Test
  void floatsTruncateToEightBitsOnSaveAsNumpyDoes() {
    assertThat(saved(ImageOps.filled(1, 1, 0x123456), 0, 0)).containsExactly(0x12, 0x34, 0x56);
    assertThat(saved(ImageOps.invert(ImageOps.filled(1, 1, 0x112233)), 0, 0))
        .containsExactly(0xee, 0xdd, 0xcc);
    // a blurred flat 128 sums to 127.99998 in float32, which truncates to 127 (as on the real one)
    assertThat(saved(ImageOps.blur(ImageOps.filled(5, 5, 0x808080), 2, 1.0), 2, 2))
        .containsExactly(127, 127, 127);
  }

  @Test
  void outpaintPaddingIsHalfGreySavedAs127AndItsMaskFeathersOnlyWhenNarrowEnough() {
    FloatImage[] padded = ImageOps.padForOutpaint(ImageOps.filled(10, 10, 0xffffff), 2, 0, 0, 0, 4);
    assertThat(saved(padded[0], 0, 0)).containsExactly(127, 127, 127);
    assertThat(padded[1].get(0, 5, 0)).isEqualTo(1f);
    assertThat(padded[1].get(2, 5, 0)).as("d = 0 at the padded side").isEqualTo(1f);
    assertThat(padded[1].get(3, 5, 0)).isEqualTo((float) (0.75 * 0.75));
    assertThat(padded[1].get(6, 5, 0)).isEqualTo(0f);

    FloatImage[] wide = ImageOps.padForOutpaint(ImageOps.filled(10, 10, 0), 2, 0, 0, 0, 5);
    assertThat(wide[1].get(2, 5, 0)).as("2 * feathering >= size: no feathering").isEqualTo(0f);
  }

  @Test
  void blurSigmaIsRelativeToTheRadius() {
    float[][] kernel = ImageOps.gaussianKernel(2 * 4 + 1, 1.0);
    // the kernel spans linspace(-1, 1): its edge (4 px away) is at distance 1, exp(-1/2) of the
    // centre
    assertThat((double) kernel[4][0] / kernel[4][4]).isCloseTo(Math.exp(-0.5), within(1e-6));
    assertThat(ImageOps.gaussianKernel(3, 1.0)[1][0] / ImageOps.gaussianKernel(3, 1.0)[1][1])
        .isCloseTo((float) Math.exp(-0.5), within(1e-6f));
  }

  @Test
  void scaleSizesRoundHalfToEvenAsPython() {
    assertThat(ImageOps.pyRound(10 * 0.25)).isEqualTo(2);
    assertThat(ImageOps.pyRound(6 * 0.25)).isEqualTo(2);
    assertThat(ImageOps.pyRound(3.5)).isEqualTo(4);
  }

  @Test
  void pngsCarryThePromptAndWorkflowAsTextChunksBeforeTheImageData() throws Exception {
    Map<String, String> text = new LinkedHashMap<>();
    text.put("prompt", "{\"1\": {}}");
    text.put("workflow", "{}");
    byte[] png = Png.encode(ImageOps.filled(2, 2, 0), text, 4);

    List<String> chunks = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(png).position(8);
    while (b.remaining() >= 12) {
      int length = b.getInt();
      byte[] type = new byte[4];
      b.get(type);
      byte[] data = new byte[length];
      b.get(data);
      b.getInt();
      String name = new String(type, StandardCharsets.ISO_8859_1);
      chunks.add(
          name.equals("tEXt")
              ? name + ":" + new String(data, StandardCharsets.ISO_8859_1).replace('\0', '=')
              : name);
    }
    assertThat(chunks)
        .containsExactly("IHDR", "tEXt:prompt={\"1\": {}}", "tEXt:workflow={}", "IDAT", "IEND");
    assertThat(javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png)).getWidth())
        .isEqualTo(2);
  }

  @Test
  void jsonInPngChunksIsWrittenAsPythonsJsonDumps() throws Exception {
    ObjectMapper json = new ObjectMapper();
    assertThat(
            PyJson.dumps(
                json.readTree(
                    "{\"b\":[1,2.5,1.0,1e-5,1e16,0.0001,123456789012345.0],\"a\":\"é\\n\\\"\"}")))
        .isEqualTo(
            "{\"b\": [1, 2.5, 1.0, 1e-05, 1e+16, 0.0001, 123456789012345.0],"
                + " \"a\": \"\\u00e9\\n\\\"\"}");
    assertThat(PyJson.str(json.readTree("{\"a\":\"it's\",\"b\":[true,null,0.5]}")))
        .isEqualTo("{'a': \"it's\", 'b': [True, None, 0.5]}");
  }

  private static org.assertj.core.data.Offset<Double> within(double value) {
    return org.assertj.core.data.Offset.offset(value);
  }

  private static org.assertj.core.data.Offset<Float> within(float value) {
    return org.assertj.core.data.Offset.offset(value);
  }
}
