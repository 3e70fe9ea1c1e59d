package io.tempera.outputs;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.OutputRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Stored outputs carry their width and height in every image format, read from the header alone:
 * real files made by Pillow 11.3 ({@code src/test/resources/images/make.py}), each of its own size,
 * and damaged ones, which give no size and never an exception.
 */
class ImageSizeTest {

  static final Path IMAGES = Path.of("src/test/resources/images");

  @TempDir Path tmp;

  record Image(String file, String contentType, int width, int height) {
    @Override
    public String toString() {
      return file;
    }
  }

  static List<Image> images() {
    return List.of(
        new Image("rgb.png", "image/png", 3, 2),
        new Image("baseline.jpg", "image/jpeg", 5, 3),
        new Image("progressive.jpg", "image/jpeg", 7, 4),
        new Image("exif.jpg", "image/jpeg", 6, 9),
        new Image("still.gif", "image/gif", 6, 5),
        new Image("animated.gif", "image/gif", 8, 3),
        new Image("bottom-up.bmp", "image/bmp", 9, 4),
        new Image("top-down.bmp", "image/bmp", 9, 4),
        new Image("lossy.webp", "image/webp", 10, 6),
        new Image("lossless.webp", "image/webp", 11, 7),
        new Image("alpha.webp", "image/webp", 12, 8),
        new Image("animated.webp", "image/webp", 13, 9),
        new Image("still.avif", "image/avif", 14, 10),
        new Image("alpha.avif", "image/avif", 15, 11));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("images")
  void aStoredImageIsDescribedWithItsTypeAndSize(Image image) throws IOException {
    Path file = tmp.resolve(image.file());
    Files.copy(IMAGES.resolve(image.file()), file);
    OutputRef ref = new OutputStore(tmp).describe(image.file(), file);
    assertThat(ref.contentType()).isEqualTo(image.contentType());
    assertThat(ref.width()).isEqualTo(image.width());
    assertThat(ref.height()).isEqualTo(image.height());
  }

  @Test
  void theWebpFilesAreOfEachKind() throws IOException {
    assertThat(chunk("lossy.webp")).isEqualTo("VP8 ");
    assertThat(chunk("lossless.webp")).isEqualTo("VP8L");
    assertThat(chunk("alpha.webp")).isEqualTo("VP8X");
    assertThat(chunk("animated.webp")).isEqualTo("VP8X");
    assertThat(new String(Files.readAllBytes(IMAGES.resolve("animated.webp")), "ISO-8859-1"))
        .contains("ANIM")
        .contains("ANMF");
  }

  static String chunk(String webp) throws IOException {
    return new String(Files.readAllBytes(IMAGES.resolve(webp)), 12, 4, "US-ASCII");
  }

  @Test
  void onlyTheHeaderIsRead() throws IOException {
    // each header kept, everything after it replaced by noise: the size is still known
    Random random = new Random(15);
    for (String name : List.of("rgb.png", "baseline.jpg", "lossy.webp", "still.avif")) {
      byte[] bytes = Files.readAllBytes(IMAGES.resolve(name));
      int keep =
          switch (name) {
            case "rgb.png" -> 24; // signature and IHDR's size fields
            case "lossy.webp" -> 30;
            case "still.avif" -> indexOf(bytes, "mdat") + 4; // boxes up to the image data
            default -> frameHeaderEnd(bytes);
          };
      byte[] noise = new byte[4096];
      random.nextBytes(noise);
      byte[] damaged = Arrays.copyOf(bytes, keep + noise.length);
      System.arraycopy(noise, 0, damaged, keep, noise.length);
      Path file = tmp.resolve("noisy-" + name);
      Files.write(file, damaged);
      assertThat(ImageSize.of(file)).as(name).isPresent();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("images")
  void aTruncatedOrDamagedHeaderGivesNoSizeNeverAnException(Image image) throws IOException {
    byte[] bytes = Files.readAllBytes(IMAGES.resolve(image.file()));
    int header =
        switch (image.contentType()) {
          case "image/png" -> 24;
          case "image/jpeg" -> frameHeaderEnd(bytes);
          case "image/gif" -> 10;
          case "image/bmp" -> 26;
          case "image/webp" -> 30;
          default -> indexOf(bytes, "mdat") - 4; // the meta box ends where mdat begins
        };
    for (int length = 0; length < header; length++) {
      Path cut = tmp.resolve("cut-" + length + "-" + image.file());
      Files.write(cut, Arrays.copyOf(bytes, length));
      assertThat(ImageSize.of(cut)).as("%s cut to %d bytes", image, length).isEmpty();
      assertThat(new OutputStore(tmp).describe("x", cut).width()).isNull();
    }
    // every byte of the header flipped in turn: a size, or none, but never an exception
    Random random = new Random(image.file().hashCode());
    for (int at = 0; at < header; at++) {
      byte[] damaged = bytes.clone();
      damaged[at] = (byte) (damaged[at] ^ (1 + random.nextInt(255)));
      Path file = tmp.resolve("flipped-" + at + "-" + image.file());
      Files.write(file, damaged);
      ImageSize.of(file)
          .ifPresent(d -> {
            assertThat(d.width()).isPositive();
            assertThat(d.height()).isPositive();
          });
      new OutputStore(tmp).describe("x", file);
    }
  }

  @Test
  void notAnImageOrNonsenseHeadersGiveNoSize() throws IOException {
    for (byte[] bytes :
        List.of(
            new byte[0],
            "hello, world".getBytes(StandardCharsets.US_ASCII),
            "BMnot a bitmap at all......".getBytes(StandardCharsets.US_ASCII),
            "GIF89a".getBytes(StandardCharsets.US_ASCII),
            // a JPEG whose first segment claims a length of 0
            new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xe0, 0, 0, 0, 0, 0, 0, 0, 0},
            // a JPEG that starts its scan before any frame header
            new byte[] {(byte) 0xff, (byte) 0xd8, (byte) 0xff, (byte) 0xda, 0, 4, 0, 0, 0, 0, 0, 0},
            // an ISO media file of another brand (an MP4)
            new byte[] {0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 0, 0})) {
      Path file = tmp.resolve("junk-" + System.nanoTime());
      Files.write(file, bytes);
      assertThat(ImageSize.of(file)).as(Arrays.toString(bytes)).isEmpty();
    }
    assertThat(ImageSize.of(tmp.resolve("missing.png"))).isEmpty();
  }

  /** Just past a JPEG's first start-of-frame segment's width. */
  static int frameHeaderEnd(byte[] jpeg) {
    for (int at = 2; at + 1 < jpeg.length; at++) {
      int code = jpeg[at + 1] & 0xff;
      if ((jpeg[at] & 0xff) == 0xff && (code == 0xc0 || code == 0xc1 || code == 0xc2)) {
        return at + 9;
      }
    }
    throw new IllegalStateException("no frame header");
  }

  static int indexOf(byte[] bytes, String ascii) {
    String text = new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1);
    int at = text.indexOf(ascii);
    if (at < 0) {
      throw new IllegalStateException("no " + ascii);
    }
    return at;
  }
}
