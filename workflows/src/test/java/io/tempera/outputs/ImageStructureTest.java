package io.tempera.outputs;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Uploads must be whole images: polyglots, damaged and truncated files are refused. */
class ImageStructureTest {

  static final byte[] HTML =
      "<html><script>alert(document.cookie)</script></html>\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  static byte[] encode(String format, int width, int height) throws Exception {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.setRGB(x, y, (x * 7 + y * 13) & 0xffffff);
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertThat(ImageIO.write(image, format, out)).isTrue();
    return out.toByteArray();
  }

  Optional<String> check(byte[] bytes, String type) throws Exception {
    Path file = Files.write(dir.resolve("f" + System.nanoTime()), bytes);
    Optional<ImageSize.Dimensions> size = ImageSize.of(file);
    return ImageStructure.problem(file, type, size.orElse(new ImageSize.Dimensions(1, 1)));
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void wholeImagesPass() throws Exception {
    assertThat(check(encode("png", 64, 48), "image/png")).isEmpty();
    assertThat(check(encode("jpg", 64, 48), "image/jpeg")).isEmpty();
    assertThat(check(encode("gif", 64, 48), "image/gif")).isEmpty();
    assertThat(check(webp(new byte[] {0x2f, 0, 0, 0, 0}), "image/webp")).isEmpty();
    // a large one is decoded at a reduced resolution
    assertThat(check(encode("png", 3000, 2000), "image/png")).isEmpty();
  }

  @Test
  void anImageWithSomethingBehindItIsRefused() throws Exception {
    for (String[] format :
        new String[][] {{"png", "image/png"}, {"jpg", "image/jpeg"}, {"gif", "image/gif"}}) {
      assertThat(check(concat(encode(format[0], 16, 16), HTML), format[1]))
          .as(format[0] + " followed by HTML")
          .hasValueSatisfying(p -> assertThat(p).contains("follows"));
    }
    assertThat(check(concat(webp(new byte[] {0x2f, 0, 0, 0, 0}), HTML), "image/webp")).isPresent();
  }

  @Test
  void aHeaderBeforeSomethingElseIsRefused() throws Exception {
    byte[] png = encode("png", 16, 16);
    // the signature and IHDR of a real PNG, then a page
    byte[] headerThenPage = concat(java.util.Arrays.copyOf(png, 33), HTML);
    assertThat(check(headerThenPage, "image/png")).isPresent();
    byte[] jpeg = encode("jpg", 16, 16);
    assertThat(check(concat(java.util.Arrays.copyOf(jpeg, 200), HTML), "image/jpeg")).isPresent();
  }

  @Test
  void damagedAndTruncatedImagesAreRefused() throws Exception {
    byte[] png = encode("png", 32, 32);
    byte[] damaged = png.clone();
    damaged[45] ^= 0x55; // inside IDAT: its CRC no longer matches
    assertThat(check(damaged, "image/png"))
        .hasValueSatisfying(p -> assertThat(p).contains("checksum"));
    assertThat(check(java.util.Arrays.copyOf(png, png.length - 20), "image/png")).isPresent();
    byte[] jpeg = encode("jpg", 32, 32);
    assertThat(check(java.util.Arrays.copyOf(jpeg, jpeg.length / 2), "image/jpeg")).isPresent();
    byte[] webp = webp(new byte[] {0x2f, 0, 0, 0, 0});
    ByteBuffer.wrap(webp, 4, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(9999);
    assertThat(check(webp, "image/webp")).isPresent();
  }

  /** A RIFF WebP holding one VP8L chunk of {@code data} (its container, not a decodable image). */
  static byte[] webp(byte[] data) {
    int padded = data.length + (data.length & 1);
    ByteBuffer b = ByteBuffer.allocate(12 + 8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(4 + 8 + padded);
    b.put("WEBP".getBytes(StandardCharsets.US_ASCII));
    b.put("VP8L".getBytes(StandardCharsets.US_ASCII)).putInt(data.length).put(data);
    return b.array();
  }
}
