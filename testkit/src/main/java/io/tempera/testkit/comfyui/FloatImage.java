package io.tempera.testkit.comfyui;

/**
 * One item of a batch as ComfyUI holds it between nodes: a float32 tensor, row-major, channels last
 * — 3 channels for an IMAGE ({@code [H, W, 3]}, 0..1, not clamped: bicubic may overshoot), 1 for a
 * MASK ({@code [H, W]}). Values become 8-bit only where ComfyUI converts them: on save, in a
 * preview and in lanczos (Pillow) scaling — by truncation, as numpy's {@code astype(uint8)} does.
 */
@SuppressWarnings("ArrayRecordComponent") // a pixel buffer, filled in place, never compared
record FloatImage(int width, int height, int channels, float[] data) {

  FloatImage {
    if (data.length != width * height * channels) {
      throw new IllegalArgumentException("data of " + data.length + " for " + width + "x" + height);
    }
  }

  static FloatImage blank(int width, int height, int channels) {
    return new FloatImage(width, height, channels, new float[width * height * channels]);
  }

  float get(int x, int y, int c) {
    return data[(y * width + x) * channels + c];
  }

  void set(int x, int y, int c, float value) {
    data[(y * width + x) * channels + c] = value;
  }

  /** ComfyUI's float-to-8-bit: {@code np.clip(255. * x, 0, 255).astype(np.uint8)} (float32). */
  static int toByte(float value) {
    float scaled = 255f * value;
    if (!(scaled > 0f)) {
      return 0; // also NaN, which numpy's cast leaves undefined
    }
    return scaled >= 255f ? 255 : (int) scaled;
  }

  /** 8-bit to float as ComfyUI loads it: {@code np.array(img).astype(np.float32) / 255.0}. */
  static float fromByte(int value) {
    return value / 255f;
  }
}
