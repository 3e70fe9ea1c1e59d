package io.tempera.outputs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing below the output root is reached through a symbolic link (#16), and an image's size is
 * checked against the limits from its header alone.
 */
class OutputStoreConfinementTest {

  @TempDir Path tmp;

  OutputStore store() {
    return new OutputStore(tmp.resolve("root"));
  }

  Path secret() throws IOException {
    return Files.writeString(tmp.resolve("secret.txt"), "secret");
  }

  @Test
  void aFileReachedWithoutLinksIsReadable() throws IOException {
    OutputStore store = store();
    Path file = store.projectDir("p").resolve("uploads/a.png");
    Files.createDirectories(file.getParent());
    Files.writeString(file, "png");
    assertThat(store.regularFile(file)).contains(file);
    try (InputStream in = store.openRead(file)) {
      assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("png");
    }
    assertThat(store.regularFile(file.getParent())).as("a folder is no file").isEmpty();
    assertThat(store.regularFile(file.resolveSibling("missing.png"))).isEmpty();
  }

  @Test
  void aFileThatIsALinkIsRefused() throws IOException {
    OutputStore store = store();
    Path link = store.projectDir("p").resolve("outputs/renders/n/out.png");
    Files.createDirectories(link.getParent());
    Files.createSymbolicLink(link, secret());
    assertThat(store.regularFile(link)).isEmpty();
    assertThatThrownBy(() -> store.openRead(link)).isInstanceOf(NoSuchFileException.class);
  }

  @Test
  void aLinkAnywhereAboveTheFileIsRefused() throws IOException {
    OutputStore store = store();
    Path outside = Files.createDirectories(tmp.resolve("outside/uploads"));
    Files.writeString(outside.resolve("a.png"), "png");
    Files.createSymbolicLink(store.projectDir("p"), outside.getParent());
    Path file = store.projectDir("p").resolve("uploads/a.png");
    assertThat(Files.isRegularFile(file)).as("the OS follows the link").isTrue();
    assertThat(store.regularFile(file)).isEmpty();

    Files.createDirectories(store.projectDir("q"));
    Files.createSymbolicLink(store.projectDir("q").resolve("uploads"), outside);
    assertThat(store.regularFile(store.projectDir("q").resolve("uploads/a.png"))).isEmpty();
  }

  @Test
  void aFolderIsMadeForWritingOnlyWithoutLinks() throws IOException {
    OutputStore store = store();
    Path renders = store.rendersDir("p", "n");
    assertThat(store.directoryForWriting(renders)).isEqualTo(renders);
    assertThat(renders).isDirectory();
    assertThat(store.directoryForWriting(renders)).as("again: it is there").isEqualTo(renders);

    Path outside = Files.createDirectories(tmp.resolve("elsewhere"));
    Files.createSymbolicLink(store.projectDir("linked"), outside);
    assertThatThrownBy(
            () -> store.directoryForWriting(store.projectDir("linked").resolve("uploads")))
        .isInstanceOf(OutputStore.UnsafePathException.class)
        .hasMessage("linked is a symbolic link");
    assertThat(outside).isEmptyDirectory();

    Files.createDirectories(store.projectDir("f"));
    Files.writeString(store.projectDir("f").resolve("uploads"), "a file");
    assertThatThrownBy(() -> store.directoryForWriting(store.projectDir("f").resolve("uploads")))
        .isInstanceOf(OutputStore.UnsafePathException.class)
        .hasMessage("f/uploads is not a folder");
  }

  /** A PNG of these dimensions: its signature and IHDR chunk, all the header says. */
  static byte[] pngHeader(int width, int height) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13});
    byte[] ihdr = {
      'I',
      'H',
      'D',
      'R',
      (byte) (width >>> 24),
      (byte) (width >>> 16),
      (byte) (width >>> 8),
      (byte) width,
      (byte) (height >>> 24),
      (byte) (height >>> 16),
      (byte) (height >>> 8),
      (byte) height,
      8,
      0,
      0,
      0,
      0
    };
    out.writeBytes(ihdr);
    CRC32 crc = new CRC32();
    crc.update(ihdr);
    long c = crc.getValue();
    out.writeBytes(new byte[] {(byte) (c >>> 24), (byte) (c >>> 16), (byte) (c >>> 8), (byte) c});
    return out.toByteArray();
  }

  @Test
  void imageLimitsAreCheckedFromTheHeader() throws IOException {
    ImageLimits limits = ImageLimits.defaults();
    Path bomb = Files.write(tmp.resolve("x.png"), pngHeader(20000, 20000));
    assertThat(limits.problem("x.png", bomb))
        .contains(
            "The image x.png is 20000 × 20000 pixels (400 megapixels); the limit is 16384 pixels"
                + " a side and 50 megapixels in all");
    Path wide = Files.write(tmp.resolve("wide.png"), pngHeader(20000, 10));
    assertThat(limits.problem("wide.png", wide)).isPresent();
    Path big = Files.write(tmp.resolve("big.png"), pngHeader(8000, 6250)); // exactly 50 MP
    assertThat(limits.problem("big.png", big)).isEmpty();
    Path over = Files.write(tmp.resolve("over.png"), pngHeader(8000, 6251));
    assertThat(limits.problem("over.png", over)).isPresent();
    Path text = Files.writeString(tmp.resolve("t.png"), "not an image");
    assertThat(limits.problem("t.png", text))
        .as("no size in its header: not this check's")
        .isEmpty();

    ImageLimits small = ImageLimits.of(1_500_000L, 2000);
    assertThat(small.problem("y.png", new ImageSize.Dimensions(1500, 1500)))
        .contains(
            "The image y.png is 1500 × 1500 pixels (2.3 megapixels); the limit is 2000 pixels a"
                + " side and 1.5 megapixels in all");
    assertThat(new OutputStore(tmp.resolve("r2"), small).imageLimits()).isEqualTo(small);
  }
}
