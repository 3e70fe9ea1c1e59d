package io.tempera.outputs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * An image's width and height from its header alone, never decoding it: PNG (IHDR), JPEG (the first
 * start-of-frame segment, skipping the others by their lengths), GIF (the logical screen), BMP (the
 * info header; a top-down image's negative height counts as its size), WebP (lossy VP8, lossless
 * VP8L, extended VP8X: its canvas, also for animations) and AVIF (the primary item's {@code ispe}
 * property). The size is that of the pixels as stored: an EXIF orientation or an AVIF rotation is
 * not applied. A malformed or truncated header gives no size, never an exception.
 */
public final class ImageSize {

  /** Width and height in pixels, both at least 1. */
  public record Dimensions(int width, int height) {}

  /** JPEG segments skipped before giving up (a valid file has a few dozen at most). */
  private static final int MAX_JPEG_SEGMENTS = 4096;

  /** The largest AVIF {@code meta} box read (it holds item and property tables, not pixels). */
  private static final long MAX_META_BYTES = 1 << 20;

  private ImageSize() {}

  /** The size of the image in {@code file}, whatever its format, or empty. */
  public static Optional<Dimensions> of(Path file) {
    try (SeekableByteChannel in = Files.newByteChannel(file)) {
      byte[] head = read(in, 0, 32);
      if (head.length < 12) {
        return Optional.empty();
      }
      if (startsWith(head, 0, (byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G')) {
        return png(head);
      }
      if ((head[0] & 0xff) == 0xff && (head[1] & 0xff) == 0xd8) {
        return jpeg(in);
      }
      if (ascii(head, 0, 3).equals("GIF")) {
        return gif(head);
      }
      if (ascii(head, 0, 2).equals("BM")) {
        return bmp(head);
      }
      if (ascii(head, 0, 4).equals("RIFF") && ascii(head, 8, 4).equals("WEBP")) {
        return webp(head);
      }
      if (ascii(head, 4, 4).equals("ftyp")) {
        return avif(in);
      }
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  static Optional<Dimensions> png(byte[] h) {
    // signature (8), IHDR length (4), "IHDR", width and height as big-endian 32-bit
    if (h.length < 24 || !ascii(h, 12, 4).equals("IHDR")) {
      return Optional.empty();
    }
    return sized(be32(h, 16), be32(h, 20));
  }

  static Optional<Dimensions> gif(byte[] h) {
    if (!ascii(h, 0, 6).equals("GIF87a") && !ascii(h, 0, 6).equals("GIF89a")) {
      return Optional.empty();
    }
    return sized(le16(h, 6), le16(h, 8));
  }

  static Optional<Dimensions> bmp(byte[] h) {
    if (h.length < 26) {
      return Optional.empty();
    }
    long headerSize = le32(h, 14);
    if (headerSize == 12) { // OS/2 BITMAPCOREHEADER: 16-bit sizes
      return sized(le16(h, 18), le16(h, 20));
    }
    if (headerSize < 40 || headerSize > 124) {
      return Optional.empty();
    }
    int width = (int) le32(h, 18);
    int height = (int) le32(h, 22); // negative: stored top-down
    return height == Integer.MIN_VALUE ? Optional.empty() : sized(width, Math.abs(height));
  }

  /** A WebP's canvas from its first chunk: VP8X (extended), VP8L (lossless) or VP8 (lossy). */
  static Optional<Dimensions> webp(byte[] h) {
    if (h.length < 30) {
      return Optional.empty();
    }
    return switch (ascii(h, 12, 4)) {
      // flags (1), reserved (3), canvas width - 1 and height - 1 as 24-bit little-endian
      case "VP8X" -> sized(1 + le24(h, 24), 1 + le24(h, 27));
      case "VP8L" -> {
        // signature 0x2f, then 14 bits width - 1, 14 bits height - 1
        if ((h[20] & 0xff) != 0x2f) {
          yield Optional.empty();
        }
        long bits = le32(h, 21);
        yield sized(1 + (int) (bits & 0x3fff), 1 + (int) ((bits >>> 14) & 0x3fff));
      }
      case "VP8 " -> {
        // frame tag (3 bytes, bit 0 clear on a key frame), start code 9d 01 2a, then 14-bit
        // width and height (the top two bits of each are a scaling hint)
        if ((h[20] & 0x01) != 0
            || (h[23] & 0xff) != 0x9d
            || (h[24] & 0xff) != 0x01
            || (h[25] & 0xff) != 0x2a) {
          yield Optional.empty();
        }
        yield sized(le16(h, 26) & 0x3fff, le16(h, 28) & 0x3fff);
      }
      default -> Optional.empty();
    };
  }

  /** The first start-of-frame segment's size, the segments before it skipped by their lengths. */
  static Optional<Dimensions> jpeg(SeekableByteChannel in) throws IOException {
    long size = in.size();
    long at = 2;
    for (int segments = 0; segments < MAX_JPEG_SEGMENTS && at + 4 <= size; segments++) {
      byte[] marker = read(in, at, 2);
      if (marker.length < 2 || (marker[0] & 0xff) != 0xff) {
        return Optional.empty();
      }
      int code = marker[1] & 0xff;
      if (code == 0xff) { // fill byte before a marker
        at++;
        continue;
      }
      if (code == 0x01 || (code >= 0xd0 && code <= 0xd7)) { // markers without a length
        at += 2;
        continue;
      }
      if (code == 0xd9 || code == 0xda) { // end of image, or the scan began: no frame header
        return Optional.empty();
      }
      byte[] segment = read(in, at + 2, 7);
      if (segment.length < 2) {
        return Optional.empty();
      }
      int length = be16(segment, 0);
      if (length < 2) {
        return Optional.empty();
      }
      boolean startOfFrame =
          code >= 0xc0 && code <= 0xcf && code != 0xc4 && code != 0xc8 && code != 0xcc;
      if (startOfFrame) {
        // length (2), precision (1), height (2), width (2)
        return segment.length < 7 ? Optional.empty() : sized(be16(segment, 5), be16(segment, 3));
      }
      at += 2 + length;
    }
    return Optional.empty();
  }

  /**
   * An AVIF's size: the {@code ispe} property of its primary item ({@code pitm}), as {@code ipma}
   * associates the properties of {@code ipco} with items; in the {@code meta} box, which comes
   * before the image data.
   */
  static Optional<Dimensions> avif(SeekableByteChannel in) throws IOException {
    long size = in.size();
    byte[] ftyp = box(in, 0, size);
    if (ftyp == null || !isAvif(ftyp)) {
      return Optional.empty();
    }
    long at = 0;
    for (int boxes = 0; boxes < 64 && at + 8 <= size; boxes++) {
      byte[] header = read(in, at, 16);
      long length = be32(header, 0);
      int headerLength = 8;
      if (length == 1) {
        if (header.length < 16) {
          return Optional.empty();
        }
        length = be64(header, 8);
        headerLength = 16;
      } else if (length == 0) {
        length = size - at;
      }
      if (length < headerLength || at + length > size) {
        return Optional.empty();
      }
      if (ascii(header, 4, 4).equals("meta")) {
        if (length - headerLength > MAX_META_BYTES) {
          return Optional.empty();
        }
        byte[] meta = read(in, at + headerLength, (int) (length - headerLength));
        return meta.length < 4 ? Optional.empty() : primaryItemSize(meta, 4); // skip version, flags
      }
      at += length;
    }
    return Optional.empty();
  }

  /** True for a {@code ftyp} box whose major or compatible brands name AVIF. */
  private static boolean isAvif(byte[] ftyp) {
    // major brand (4), minor version (4), compatible brands (4 each)
    for (int at = 0; at + 4 <= ftyp.length; at += at == 0 ? 8 : 4) {
      String brand = ascii(ftyp, at, 4);
      if (brand.equals("avif") || brand.equals("avis")) {
        return true;
      }
    }
    return false;
  }

  /** A whole box's payload at {@code at} (a small one: ftyp), or null. */
  private static byte[] box(SeekableByteChannel in, long at, long size) throws IOException {
    byte[] header = read(in, at, 8);
    if (header.length < 8) {
      return null;
    }
    long length = be32(header, 0);
    if (length < 8 || length > 4096 || at + length > size) {
      return null;
    }
    return read(in, at + 8, (int) length - 8);
  }

  private record Box(String type, int start, int end) {}

  /** The child boxes of a box's payload {@code [from, to)}. */
  private static List<Box> children(byte[] b, int from, int to) {
    List<Box> out = new ArrayList<>();
    int at = from;
    while (at + 8 <= to) {
      long length = be32(b, at);
      if (length < 8 || at + length > to) {
        break;
      }
      out.add(new Box(ascii(b, at + 4, 4), at + 8, (int) (at + length)));
      at += (int) length;
    }
    return out;
  }

  private static Optional<Dimensions> primaryItemSize(byte[] meta, int from) {
    long primary = -1;
    List<Box> properties = List.of();
    Box ipma = null;
    for (Box box : children(meta, from, meta.length)) {
      if (box.type().equals("pitm") && box.end() - box.start() >= 6) {
        primary =
            meta[box.start()] == 0 ? be16(meta, box.start() + 4) : be32(meta, box.start() + 4);
      } else if (box.type().equals("iprp")) {
        for (Box child : children(meta, box.start(), box.end())) {
          if (child.type().equals("ipco")) {
            properties = children(meta, child.start(), child.end());
          } else if (child.type().equals("ipma")) {
            ipma = child;
          }
        }
      }
    }
    if (primary < 0 || ipma == null) {
      return Optional.empty();
    }
    for (int index : associations(meta, ipma, primary)) {
      if (index >= 1 && index <= properties.size()) {
        Box property = properties.get(index - 1);
        if (property.type().equals("ispe") && property.end() - property.start() >= 12) {
          // version and flags (4), width and height as big-endian 32-bit
          return sized(be32(meta, property.start() + 4), be32(meta, property.start() + 8));
        }
      }
    }
    return Optional.empty();
  }

  /** The 1-based ipco indices {@code ipma} associates with {@code item}. */
  private static List<Integer> associations(byte[] b, Box ipma, long item) {
    List<Integer> out = new ArrayList<>();
    int version = b[ipma.start()] & 0xff;
    boolean wide = (b[ipma.start() + 3] & 0x01) != 0; // flags: 16-bit property indices
    int at = ipma.start() + 4;
    long entries = be32(b, at);
    at += 4;
    for (long e = 0; e < entries && at < ipma.end(); e++) {
      long id;
      if (version < 1) {
        id = be16(b, at);
        at += 2;
      } else {
        id = be32(b, at);
        at += 4;
      }
      int count = b[at++] & 0xff;
      for (int a = 0; a < count && at < ipma.end(); a++) {
        int index;
        if (wide) {
          index = be16(b, at) & 0x7fff;
          at += 2;
        } else {
          index = b[at] & 0x7f;
          at += 1;
        }
        if (id == item) {
          out.add(index);
        }
      }
    }
    return out;
  }

  // ---- bytes

  /** Up to {@code length} bytes at {@code position} (fewer at the end of the file). */
  private static byte[] read(SeekableByteChannel in, long position, int length) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.BIG_ENDIAN);
    in.position(position);
    while (buffer.hasRemaining() && in.read(buffer) > 0) {
      // keep reading until full or the end
    }
    byte[] out = new byte[buffer.position()];
    buffer.flip().get(out);
    return out;
  }

  private static Optional<Dimensions> sized(long width, long height) {
    return width >= 1 && height >= 1 && width <= Integer.MAX_VALUE && height <= Integer.MAX_VALUE
        ? Optional.of(new Dimensions((int) width, (int) height))
        : Optional.empty();
  }

  private static boolean startsWith(byte[] b, int at, byte... expected) {
    for (int i = 0; i < expected.length; i++) {
      if (b[at + i] != expected[i]) {
        return false;
      }
    }
    return true;
  }

  private static String ascii(byte[] b, int at, int length) {
    return at + length <= b.length ? new String(b, at, length, StandardCharsets.ISO_8859_1) : "";
  }

  private static int be16(byte[] b, int at) {
    return (b[at] & 0xff) << 8 | (b[at + 1] & 0xff);
  }

  private static long be32(byte[] b, int at) {
    return (long) (b[at] & 0xff) << 24
        | (b[at + 1] & 0xff) << 16
        | (b[at + 2] & 0xff) << 8
        | (b[at + 3] & 0xff);
  }

  private static long be64(byte[] b, int at) {
    return be32(b, at) << 32 | be32(b, at + 4);
  }

  private static int le16(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
  }

  private static int le24(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16;
  }

  private static long le32(byte[] b, int at) {
    return (b[at] & 0xff)
        | (b[at + 1] & 0xff) << 8
        | (b[at + 2] & 0xff) << 16
        | (long) (b[at + 3] & 0xff) << 24;
  }
}
