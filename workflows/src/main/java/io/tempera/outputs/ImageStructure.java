package io.tempera.outputs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Optional;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Whether an uploaded file is the image its header says, all of it: a PNG's chunks each with a good
 * CRC up to its IEND and nothing after it; a JPEG or GIF that decodes to its end with nothing but
 * padding after it; a WebP whose RIFF chunks add up to the file. A file with an image's header and
 * something else behind it (a PNG header followed by an HTML page, a polyglot) is refused. PNG,
 * JPEG and GIF are decoded for real, at a reduced resolution (at most about a megapixel, whatever
 * the image's size), so checking costs little memory; the caller checks the pixel limits from the
 * header first. WebP, which the JDK cannot decode, is checked by its container only.
 */
public final class ImageStructure {

  private static final long MAX_DECODED_PIXELS = 1_000_000;

  private ImageStructure() {}

  /** What is wrong with the file as an image of {@code contentType}, or empty when nothing. */
  public static Optional<String> problem(Path file, String contentType, ImageSize.Dimensions size) {
    try {
      return switch (contentType) {
        case "image/png" -> {
          Optional<String> chunks = png(file);
          yield chunks.isPresent() ? chunks : decodes(file, size);
        }
        case "image/jpeg", "image/gif" -> decodes(file, size);
        case "image/webp" -> webp(file);
        default -> Optional.of("it is no image this server takes");
      };
    } catch (IOException | RuntimeException e) {
      return Optional.of("it cannot be read as the image its header says");
    }
  }

  /** PNG: signature, chunks with good CRCs, IHDR first, an IDAT, IEND last and nothing after. */
  static Optional<String> png(Path file) throws IOException {
    try (InputStream in =
        new java.io.BufferedInputStream(Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS))) {
      byte[] signature = in.readNBytes(8);
      if (signature.length != 8 || (signature[0] & 0xff) != 0x89 || signature[1] != 'P') {
        return Optional.of("it is no PNG");
      }
      boolean first = true;
      boolean data = false;
      byte[] head = new byte[8];
      while (true) {
        if (in.readNBytes(head, 0, 8) != 8) {
          return Optional.of("its PNG data ends before its IEND chunk");
        }
        long length = ByteBuffer.wrap(head, 0, 4).getInt() & 0xffffffffL;
        String type = new String(head, 4, 4, StandardCharsets.ISO_8859_1);
        if (length > Integer.MAX_VALUE || !type.matches("[A-Za-z]{4}")) {
          return Optional.of("it holds something that is no PNG chunk");
        }
        if (first && !type.equals("IHDR")) {
          return Optional.of("its first PNG chunk is not IHDR");
        }
        first = false;
        CRC32 crc = new CRC32();
        crc.update(head, 4, 4);
        long left = length;
        byte[] buffer = new byte[65536];
        while (left > 0) {
          int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
          if (n < 0) {
            return Optional.of("its PNG data ends inside a chunk");
          }
          crc.update(buffer, 0, n);
          left -= n;
        }
        byte[] stored = in.readNBytes(4);
        if (stored.length != 4
            || (ByteBuffer.wrap(stored).getInt() & 0xffffffffL) != crc.getValue()) {
          return Optional.of("a PNG chunk (" + type + ") fails its checksum");
        }
        data |= type.equals("IDAT");
        if (type.equals("IEND")) {
          if (!data) {
            return Optional.of("its PNG has no image data");
          }
          return in.read() < 0 ? Optional.empty() : Optional.of("something follows its PNG image");
        }
      }
    }
  }

  /**
   * Decodes the first image at a reduced resolution; what follows it in the file must be padding
   * (zeros) at most.
   */
  static Optional<String> decodes(Path file, ImageSize.Dimensions size) throws IOException {
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      if (in == null) {
        return Optional.of("it cannot be read");
      }
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        return Optional.of("it is no image this server can read");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        ImageReadParam param = reader.getDefaultReadParam();
        long pixels = (long) size.width() * size.height();
        int step = (int) Math.max(1, Math.ceil(Math.sqrt((double) pixels / MAX_DECODED_PIXELS)));
        param.setSourceSubsampling(step, step, 0, 0);
        reader.read(0, param);
        // a PNG's end was checked chunk by chunk
        return reader.getFormatName().equalsIgnoreCase("png")
            ? Optional.empty()
            : trailer(file, reader.getFormatName());
      } finally {
        reader.dispose();
      }
    }
  }

  /**
   * A JPEG ends with its EOI marker (FF D9), a GIF with its trailer (3B), zeros of padding at most
   * after it: anything else behind the image (an HTML page) is refused.
   */
  private static Optional<String> trailer(Path file, String format) throws IOException {
    long length = Files.size(file);
    try (java.nio.channels.FileChannel channel =
        java.nio.channels.FileChannel.open(file, LinkOption.NOFOLLOW_LINKS)) {
      int tail = (int) Math.min(length, 4096);
      ByteBuffer buffer = ByteBuffer.allocate(tail);
      channel.read(buffer, length - tail);
      byte[] bytes = buffer.array();
      int last = bytes.length - 1;
      while (last >= 0 && bytes[last] == 0) {
        last--;
      }
      boolean ends =
          format.equalsIgnoreCase("gif")
              ? last >= 0 && (bytes[last] & 0xff) == 0x3B
              : last >= 1 && (bytes[last - 1] & 0xff) == 0xFF && (bytes[last] & 0xff) == 0xD9;
      return ends ? Optional.empty() : Optional.of("something follows its image data");
    }
  }

  /** WebP: a RIFF container of WEBP chunks that add up to the file exactly. */
  static Optional<String> webp(Path file) throws IOException {
    long length = Files.size(file);
    try (InputStream in =
        new java.io.BufferedInputStream(Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS))) {
      byte[] head = in.readNBytes(12);
      if (head.length != 12
          || !new String(head, 0, 4, StandardCharsets.ISO_8859_1).equals("RIFF")
          || !new String(head, 8, 4, StandardCharsets.ISO_8859_1).equals("WEBP")) {
        return Optional.of("it is no WebP");
      }
      long riff = ByteBuffer.wrap(head, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
      if (riff + 8 != length) {
        return Optional.of(
            "its WebP container says " + (riff + 8) + " bytes, the file has " + length);
      }
      long at = 12;
      boolean image = false;
      while (at < length) {
        byte[] chunk = in.readNBytes(8);
        if (chunk.length != 8) {
          return Optional.of("its WebP data ends inside a chunk");
        }
        String type = new String(chunk, 0, 4, StandardCharsets.ISO_8859_1);
        long size =
            ByteBuffer.wrap(chunk, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
        long padded = size + (size & 1);
        if (at + 8 + padded > length) {
          return Optional.of("a WebP chunk (" + type + ") runs past the file's end");
        }
        image |= type.equals("VP8 ") || type.equals("VP8L") || type.equals("ANMF");
        in.skipNBytes(padded);
        at += 8 + padded;
      }
      return image ? Optional.empty() : Optional.of("its WebP has no image data");
    }
  }
}
