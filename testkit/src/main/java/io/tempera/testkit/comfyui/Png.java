package io.tempera.testkit.comfyui;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * PNGs as ComfyUI's Pillow writes them: 8-bit RGB, the {@code tEXt} chunks of its {@code PngInfo}
 * (SaveImage's {@code prompt} and {@code extra_pnginfo} keys) between IHDR and IDAT, at the zlib
 * level of its {@code compress_level} (4 for SaveImage, 1 for PreviewImage and previews).
 */
final class Png {

  private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  private Png() {}

  /** The image's RGB, each channel through {@link FloatImage#toByte}, with {@code text} chunks. */
  static byte[] encode(FloatImage image, Map<String, String> text, int compressLevel) {
    int w = image.width();
    int h = image.height();
    byte[] raw = new byte[h * (1 + w * 3)];
    int i = 0;
    for (int y = 0; y < h; y++) {
      raw[i++] = 0; // filter: none
      for (int x = 0; x < w; x++) {
        for (int c = 0; c < 3; c++) {
          raw[i++] = (byte) FloatImage.toByte(image.get(x, y, image.channels() == 1 ? 0 : c));
        }
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(SIGNATURE);
    chunk(
        out,
        "IHDR",
        ByteBuffer.allocate(13).putInt(w).putInt(h).put(new byte[] {8, 2, 0, 0, 0}).array());
    text.forEach((key, value) -> {
      byte[] k = key.getBytes(StandardCharsets.ISO_8859_1);
      byte[] v = value.getBytes(StandardCharsets.ISO_8859_1);
      byte[] data = new byte[k.length + 1 + v.length];
      System.arraycopy(k, 0, data, 0, k.length);
      System.arraycopy(v, 0, data, k.length + 1, v.length);
      chunk(out, "tEXt", data);
    });
    Deflater deflater = new Deflater(compressLevel);
    deflater.setInput(raw);
    deflater.finish();
    ByteArrayOutputStream compressed = new ByteArrayOutputStream();
    byte[] buffer = new byte[64 * 1024];
    while (!deflater.finished()) {
      compressed.write(buffer, 0, deflater.deflate(buffer));
    }
    deflater.end();
    chunk(out, "IDAT", compressed.toByteArray());
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
    byte[] name = type.getBytes(StandardCharsets.US_ASCII);
    CRC32 crc = new CRC32();
    crc.update(name);
    crc.update(data);
    out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
    out.writeBytes(name);
    out.writeBytes(data);
    out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }
}
