package io.tempera.outputs;

import static org.assertj.core.api.Assertions.assertThat;

import io.tempera.generation.OutputRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WebP outputs (ComfyUI's SaveAnimatedWEBP, or a lossy or lossless still) are described with their
 * size, though ImageIO reads no WebP: from the first chunk's header.
 */
class WebpDimensionsTest {

  @TempDir Path tmp;

  /** A RIFF WEBP file whose first chunk is {@code kind} with {@code payload}. */
  private Path webp(String name, String kind, byte[] payload) throws IOException {
    byte[] file = new byte[20 + payload.length];
    System.arraycopy("RIFF".getBytes(StandardCharsets.US_ASCII), 0, file, 0, 4);
    int riff = file.length - 8;
    file[4] = (byte) riff;
    file[5] = (byte) (riff >> 8);
    System.arraycopy("WEBP".getBytes(StandardCharsets.US_ASCII), 0, file, 8, 4);
    System.arraycopy(kind.getBytes(StandardCharsets.US_ASCII), 0, file, 12, 4);
    file[16] = (byte) payload.length;
    System.arraycopy(payload, 0, file, 20, payload.length);
    Path path = tmp.resolve(name);
    Files.write(path, file);
    return path;
  }

  @Test
  void anAnimatedWebpsCanvasComesFromItsVp8xChunk() throws IOException {
    // flags (animation 0x02), reserved, canvas width - 1 = 63, height - 1 = 47 (24 bits each)
    Path file = webp("anim.webp", "VP8X", new byte[] {0x12, 0, 0, 0, 63, 0, 0, 47, 0, 0});
    OutputRef ref = new OutputStore(tmp).describe("anim.webp", file);
    assertThat(ref.contentType()).isEqualTo("image/webp");
    assertThat(ref.width()).isEqualTo(64);
    assertThat(ref.height()).isEqualTo(48);
  }

  @Test
  void losslessAndLossyStillsToo() throws IOException {
    // VP8L: signature 0x2f, then 14 bits width - 1 (= 2) and 14 bits height - 1 (= 1)
    int bits = 2 | 1 << 14;
    Path lossless =
        webp(
            "l.webp",
            "VP8L",
            new byte[] {
              0x2f, (byte) bits, (byte) (bits >> 8), (byte) (bits >> 16), 0, 0, 0, 0, 0, 0
            });
    assertThat(OutputStore.webpDimensions(lossless))
        .hasValueSatisfying(d -> assertThat(d).containsExactly(3, 2));
    // VP8: frame tag, start code 9d 01 2a, width 5, height 7
    Path lossy = webp("v.webp", "VP8 ", new byte[] {0, 0, 0, (byte) 0x9d, 0x01, 0x2a, 5, 0, 7, 0});
    assertThat(OutputStore.webpDimensions(lossy))
        .hasValueSatisfying(d -> assertThat(d).containsExactly(5, 7));
    Path notWebp = tmp.resolve("x.bin");
    Files.write(notWebp, new byte[40]);
    assertThat(OutputStore.webpDimensions(notWebp)).isEmpty();
  }
}
