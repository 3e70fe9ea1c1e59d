package io.tempera.testkit.comfyui;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * The pixel work of the CPU nodes as ComfyUI's torch and Pillow code does it, on float32 {@link
 * FloatImage}s: the same formulas, in float32 where torch computes in float32, with Python's
 * rounding (half to even) where ComfyUI calls {@code round()}. testkit/FIDELITY.md states what is
 * exact and what differs by a float rounding.
 */
final class ImageOps {

  private ImageOps() {}

  // ---------------------------------------------------------------- making and loading

  /** EmptyImage: each channel {@code ((color >> s) & 0xFF) / 0xFF} (a Python float) as float32. */
  static FloatImage filled(int width, int height, int color) {
    FloatImage image = FloatImage.blank(width, height, 3);
    float[] rgb = {
      (float) (((color >> 16) & 0xFF) / 255.0),
      (float) (((color >> 8) & 0xFF) / 255.0),
      (float) ((color & 0xFF) / 255.0)
    };
    float[] data = image.data();
    for (int i = 0; i < data.length; i++) {
      data[i] = rgb[i % 3];
    }
    return image;
  }

  /** Pillow's {@code Image.MAX_IMAGE_PIXELS}: over twice as many is refused before decoding. */
  static final long MAX_IMAGE_PIXELS = 89_478_485L;

  /**
   * Refuses, as Pillow does from the header alone, an image of over twice {@link
   * #MAX_IMAGE_PIXELS}: {@code PIL.Image.DecompressionBombError}, before a pixel is decoded.
   */
  static void refuseDecompressionBomb(Path file) throws IOException, NodeLibrary.NodeException {
    try (javax.imageio.stream.ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      if (in == null) {
        return;
      }
      java.util.Iterator<javax.imageio.ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        return; // not an image: ImageIO.read says so
      }
      javax.imageio.ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
        if (pixels > 2 * MAX_IMAGE_PIXELS) {
          throw new NodeLibrary.NodeException(
              "PIL.Image.DecompressionBombError",
              "Image size ("
                  + pixels
                  + " pixels) exceeds limit of "
                  + 2 * MAX_IMAGE_PIXELS
                  + " pixels, could be decompression bomb DOS attack.");
        }
      } finally {
        reader.dispose();
      }
    }
  }

  /**
   * LoadImage: the image's RGB ({@code convert("RGB")}: alpha dropped, not composited) and its
   * mask, {@code 1 - alpha} when the file has an alpha band, else a 64×64 zero mask. A palette
   * image's transparency is no alpha band (Pillow keeps it in mode P).
   */
  static FloatImage[] load(Path file) throws IOException, NodeLibrary.NodeException {
    refuseDecompressionBomb(file);
    BufferedImage source = ImageIO.read(file.toFile());
    if (source == null) {
      return null;
    }
    int w = source.getWidth();
    int h = source.getHeight();
    FloatImage image = FloatImage.blank(w, h, 3);
    boolean gray = source.getType() == BufferedImage.TYPE_BYTE_GRAY;
    boolean alpha =
        source.getColorModel().hasAlpha() && !(source.getColorModel() instanceof IndexColorModel);
    FloatImage mask = alpha ? FloatImage.blank(w, h, 1) : FloatImage.blank(64, 64, 1);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        if (gray) {
          float v = FloatImage.fromByte(source.getRaster().getSample(x, y, 0));
          image.set(x, y, 0, v);
          image.set(x, y, 1, v);
          image.set(x, y, 2, v);
          continue;
        }
        int argb = source.getRGB(x, y);
        image.set(x, y, 0, FloatImage.fromByte((argb >> 16) & 0xff));
        image.set(x, y, 1, FloatImage.fromByte((argb >> 8) & 0xff));
        image.set(x, y, 2, FloatImage.fromByte(argb & 0xff));
        if (alpha) {
          mask.set(x, y, 0, 1f - FloatImage.fromByte(argb >>> 24));
        }
      }
    }
    return new FloatImage[] {image, mask};
  }

  // ---------------------------------------------------------------- per pixel

  /** ImageInvert: {@code 1.0 - image}. */
  static FloatImage invert(FloatImage source) {
    FloatImage out = FloatImage.blank(source.width(), source.height(), source.channels());
    for (int i = 0; i < out.data().length; i++) {
      out.data()[i] = 1f - source.data()[i];
    }
    return out;
  }

  /** MaskToImage: the mask in all three channels. */
  static FloatImage maskToImage(FloatImage mask) {
    FloatImage out = FloatImage.blank(mask.width(), mask.height(), 3);
    for (int i = 0; i < mask.data().length; i++) {
      out.data()[i * 3] = mask.data()[i];
      out.data()[i * 3 + 1] = mask.data()[i];
      out.data()[i * 3 + 2] = mask.data()[i];
    }
    return out;
  }

  // ---------------------------------------------------------------- scaling

  /** Python's {@code round()} of a float: half to even. */
  static int pyRound(double value) {
    return (int) Math.rint(value);
  }

  /**
   * comfy.utils.common_upscale's {@code crop="center"}: equal margins, {@code round()}ed, off the
   * longer side, before scaling.
   */
  static FloatImage cropCenter(FloatImage source, int width, int height) {
    int oldWidth = source.width();
    int oldHeight = source.height();
    double oldAspect = oldWidth / (double) oldHeight;
    double newAspect = width / (double) height;
    int x = 0;
    int y = 0;
    if (oldAspect > newAspect) {
      x = pyRound((oldWidth - oldWidth * (newAspect / oldAspect)) / 2);
    } else if (oldAspect < newAspect) {
      y = pyRound((oldHeight - oldHeight * (oldAspect / newAspect)) / 2);
    }
    return crop(source, x, y, oldWidth - 2 * x, oldHeight - 2 * y);
  }

  static FloatImage crop(FloatImage source, int x0, int y0, int width, int height) {
    int c = source.channels();
    FloatImage out = FloatImage.blank(Math.max(0, width), Math.max(0, height), c);
    for (int y = 0; y < out.height(); y++) {
      System.arraycopy(
          source.data(),
          ((y + y0) * source.width() + x0) * c,
          out.data(),
          y * out.width() * c,
          out.width() * c);
    }
    return out;
  }

  /**
   * comfy.utils.common_upscale without crop: torch's {@code F.interpolate} for nearest-exact,
   * bilinear, area (adaptive average pooling) and bicubic, Pillow's LANCZOS for lanczos.
   */
  static FloatImage scale(FloatImage source, int width, int height, String method) {
    return switch (method) {
      case "nearest-exact" -> nearestExact(source, width, height);
      case "bilinear" -> bilinear(source, width, height);
      case "area" -> area(source, width, height);
      case "bicubic" -> bicubic(source, width, height);
      case "lanczos" -> lanczos(source, width, height);
      default -> throw new IllegalArgumentException("unknown upscale_method " + method);
    };
  }

  /** torch's nearest-exact source index: {@code min(floor((i + 0.5) * scale), in - 1)}. */
  private static int[] nearestIndex(int in, int out) {
    float scale = (float) in / out;
    int[] index = new int[out];
    for (int i = 0; i < out; i++) {
      index[i] = Math.min((int) Math.floor((float) ((i + 0.5) * scale)), in - 1);
    }
    return index;
  }

  private static FloatImage nearestExact(FloatImage source, int width, int height) {
    int[] xs = nearestIndex(source.width(), width);
    int[] ys = nearestIndex(source.height(), height);
    int c = source.channels();
    FloatImage out = FloatImage.blank(width, height, c);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        for (int ch = 0; ch < c; ch++) {
          out.set(x, y, ch, source.get(xs[x], ys[y], ch));
        }
      }
    }
    return out;
  }

  /** One axis of torch's linear interpolation (align_corners=False): two indices, two weights. */
  @SuppressWarnings("ArrayRecordComponent") // index and weight tables, never compared
  private record Linear(int[] i0, int[] i1, float[] l0, float[] l1) {
    static Linear of(int in, int out) {
      Linear a = new Linear(new int[out], new int[out], new float[out], new float[out]);
      float scale = (float) in / out;
      for (int i = 0; i < out; i++) {
        if (in == out) {
          a.i0[i] = i;
          a.i1[i] = i;
          a.l0[i] = 1f;
          continue;
        }
        float real = Math.fma(scale, i + 0.5f, -0.5f); // torch's build contracts a*b+c to FMA
        if (real < 0f) {
          real = 0f;
        }
        int index = Math.min((int) Math.floor(real), in - 1);
        float lambda = Math.min(Math.max(real - index, 0f), 1f);
        a.i0[i] = index;
        a.i1[i] = index + (index < in - 1 ? 1 : 0);
        a.l1[i] = lambda;
        a.l0[i] = 1f - lambda;
      }
      return a;
    }
  }

  /**
   * torch's channels-last bilinear kernel: {@code i00*w00 + i01*w01 + i10*w10 + i11*w11}, as its
   * build compiles it (fused multiply-adds).
   */
  private static FloatImage bilinear(FloatImage source, int width, int height) {
    Linear h = Linear.of(source.height(), height);
    Linear w = Linear.of(source.width(), width);
    int c = source.channels();
    FloatImage out = FloatImage.blank(width, height, c);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        float w00 = h.l0[y] * w.l0[x];
        float w01 = h.l0[y] * w.l1[x];
        float w10 = h.l1[y] * w.l0[x];
        float w11 = h.l1[y] * w.l1[x];
        for (int ch = 0; ch < c; ch++) {
          float v = source.get(w.i0[x], h.i0[y], ch) * w00;
          v = Math.fma(source.get(w.i1[x], h.i0[y], ch), w01, v);
          v = Math.fma(source.get(w.i0[x], h.i1[y], ch), w10, v);
          v = Math.fma(source.get(w.i1[x], h.i1[y], ch), w11, v);
          out.set(x, y, ch, v);
        }
      }
    }
    return out;
  }

  /**
   * torch's adaptive_avg_pool2d (mode "area"): the mean of rows {@code floor(i*in/out)} to {@code
   * ceil((i+1)*in/out)}, summed in float32, divided by the row and then the column count.
   */
  private static FloatImage area(FloatImage source, int width, int height) {
    int c = source.channels();
    FloatImage out = FloatImage.blank(width, height, c);
    int ih = source.height();
    int iw = source.width();
    for (int y = 0; y < height; y++) {
      int y0 = (int) Math.floorDiv((long) y * ih, height);
      int y1 = (int) -Math.floorDiv(-(long) (y + 1) * ih, height);
      for (int x = 0; x < width; x++) {
        int x0 = (int) Math.floorDiv((long) x * iw, width);
        int x1 = (int) -Math.floorDiv(-(long) (x + 1) * iw, width);
        for (int ch = 0; ch < c; ch++) {
          float sum = 0f;
          for (int sy = y0; sy < y1; sy++) {
            for (int sx = x0; sx < x1; sx++) {
              sum += source.get(sx, sy, ch);
            }
          }
          out.set(x, y, ch, sum / (y1 - y0) / (x1 - x0));
        }
      }
    }
    return out;
  }

  /** One axis of torch's bicubic interpolation (A = -0.75, align_corners=False): 4 taps each. */
  @SuppressWarnings("ArrayRecordComponent") // index and weight tables, never compared
  private record Cubic(int[][] index, float[][] weight) {
    static Cubic of(int in, int out) {
      Cubic a = new Cubic(new int[out][4], new float[out][4]);
      float scale = (float) in / out;
      for (int i = 0; i < out; i++) {
        float real = Math.fma(scale, i + 0.5f, -0.5f);
        int index = Math.min((int) Math.floor(real), in - 1);
        float t = Math.min(Math.max(real - index, 0f), 1f);
        float x2 = 1f - t;
        a.weight[i][0] = cubic2(t + 1f);
        a.weight[i][1] = cubic1(t);
        a.weight[i][2] = cubic1(x2);
        a.weight[i][3] = cubic2(x2 + 1f);
        for (int j = 0; j < 4; j++) {
          a.index[i][j] = Math.max(Math.min(index - 1 + j, in - 1), 0);
        }
      }
      return a;
    }

    private static final float A = -0.75f;

    /** {@code ((A + 2) * x - (A + 3)) * x * x + 1}, with FMAs. */
    private static float cubic1(float x) {
      return Math.fma(Math.fma(A + 2, x, -(A + 3)) * x, x, 1f);
    }

    /** {@code ((A * x - 5 * A) * x + 8 * A) * x - 4 * A}, with FMAs. */
    private static float cubic2(float x) {
      return Math.fma(Math.fma(Math.fma(A, x, -5 * A), x, 8 * A), x, -4 * A);
    }
  }

  /** torch's bicubic: rows of four taps weighted, then the four rows weighted; not clamped. */
  private static FloatImage bicubic(FloatImage source, int width, int height) {
    Cubic h = Cubic.of(source.height(), height);
    Cubic w = Cubic.of(source.width(), width);
    int c = source.channels();
    FloatImage out = FloatImage.blank(width, height, c);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        for (int ch = 0; ch < c; ch++) {
          float v = 0f;
          for (int j = 0; j < 4; j++) {
            int sy = h.index[y][j];
            float row = source.get(w.index[x][0], sy, ch) * w.weight[x][0];
            for (int k = 1; k < 4; k++) {
              row = Math.fma(source.get(w.index[x][k], sy, ch), w.weight[x][k], row);
            }
            v = j == 0 ? row * h.weight[y][0] : Math.fma(row, h.weight[y][j], v);
          }
          out.set(x, y, ch, v);
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- lanczos: Pillow's Resample.c

  private static final int PRECISION_BITS = 32 - 8 - 2;

  /** Pillow's coefficients for one axis: per output, the first input, the count, the weights. */
  @SuppressWarnings("ArrayRecordComponent") // index and weight tables, never compared
  private record Coefficients(int[] first, int[] count, int[][] weights) {
    static Coefficients lanczos(int inSize, int outSize) {
      double scale = (double) inSize / outSize;
      double filterScale = Math.max(scale, 1.0);
      double support = 3.0 * filterScale;
      Coefficients k = new Coefficients(new int[outSize], new int[outSize], new int[outSize][]);
      for (int xx = 0; xx < outSize; xx++) {
        double center = (xx + 0.5) * scale;
        double ss = 1.0 / filterScale;
        int xmin = Math.max(0, (int) (center - support + 0.5));
        int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
        double[] w = new double[Math.max(0, xmax)];
        double sum = 0;
        for (int x = 0; x < xmax; x++) {
          w[x] = lanczosFilter((x + xmin - center + 0.5) * ss);
          sum += w[x];
        }
        int[] fixed = new int[w.length];
        for (int x = 0; x < w.length; x++) {
          double v = sum != 0.0 ? w[x] / sum : w[x];
          fixed[x] =
              (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        k.first[xx] = xmin;
        k.count[xx] = Math.max(0, xmax);
        k.weights[xx] = fixed;
      }
      return k;
    }

    private static double lanczosFilter(double x) {
      return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    }

    private static double sinc(double x) {
      if (x == 0.0) {
        return 1.0;
      }
      x = x * Math.PI;
      return Math.sin(x) / x;
    }
  }

  private static int clip8(int value) {
    int shifted = value >> PRECISION_BITS;
    return shifted < 0 ? 0 : Math.min(shifted, 255);
  }

  /**
   * comfy.utils.lanczos: to 8 bits (truncated), Pillow's two-pass fixed-point LANCZOS resize
   * (horizontal, then vertical, 8-bit in between; a pass is skipped when its size is unchanged),
   * back to float.
   */
  private static FloatImage lanczos(FloatImage source, int width, int height) {
    int c = source.channels();
    int w = source.width();
    int h = source.height();
    int[] pixels = new int[w * h * c];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = FloatImage.toByte(source.data()[i]);
    }
    if (width != w) {
      Coefficients k = Coefficients.lanczos(w, width);
      int[] next = new int[width * h * c];
      for (int y = 0; y < h; y++) {
        for (int xx = 0; xx < width; xx++) {
          for (int ch = 0; ch < c; ch++) {
            int ss = 1 << (PRECISION_BITS - 1);
            for (int x = 0; x < k.count[xx]; x++) {
              ss += pixels[(y * w + x + k.first[xx]) * c + ch] * k.weights[xx][x];
            }
            next[(y * width + xx) * c + ch] = clip8(ss);
          }
        }
      }
      pixels = next;
      w = width;
    }
    if (height != h) {
      Coefficients k = Coefficients.lanczos(h, height);
      int[] next = new int[w * height * c];
      for (int yy = 0; yy < height; yy++) {
        for (int x = 0; x < w; x++) {
          for (int ch = 0; ch < c; ch++) {
            int ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < k.count[yy]; y++) {
              ss += pixels[((y + k.first[yy]) * w + x) * c + ch] * k.weights[yy][y];
            }
            next[(yy * w + x) * c + ch] = clip8(ss);
          }
        }
      }
      pixels = next;
    }
    FloatImage out = FloatImage.blank(width, height, c);
    for (int i = 0; i < pixels.length; i++) {
      out.data()[i] = FloatImage.fromByte(pixels[i]);
    }
    return out;
  }

  // ---------------------------------------------------------------- blur and padding

  /**
   * ImageBlur: a {@code (2r+1)²} Gaussian over {@code linspace(-1, 1)} — so sigma is relative to
   * the radius, a pixel {@code p} away weighs {@code exp(-(p/r)²/(2σ²))} — normalised, computed in
   * float32 as torch does, applied to the reflect-padded image (torch's {@code F.pad} "reflect":
   * the edge pixel is not repeated) as oneDNN's depthwise convolution accumulates: fused
   * multiply-adds, kernel rows outer, columns inner.
   */
  static FloatImage blur(FloatImage source, int radius, double sigma) {
    return convolve(source, gaussianKernel(radius * 2 + 1, sigma), radius);
  }

  /** A (2r+1)² kernel over the reflect-padded image, accumulated as oneDNN does. */
  private static FloatImage convolve(FloatImage source, float[][] kernel, int radius) {
    int w = source.width();
    int h = source.height();
    int c = source.channels();
    FloatImage out = FloatImage.blank(w, h, c);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        for (int ch = 0; ch < c; ch++) {
          float sum = 0f;
          for (int ky = -radius; ky <= radius; ky++) {
            int sy = reflect(y + ky, h);
            float[] row = kernel[ky + radius];
            for (int kx = -radius; kx <= radius; kx++) {
              sum = Math.fma(row[kx + radius], source.get(reflect(x + kx, w), sy, ch), sum);
            }
          }
          out.set(x, y, ch, sum);
        }
      }
    }
    return out;
  }

  /**
   * ImageSharpen: the Gaussian kernel times {@code -(alpha * 10)}, its centre raised so the kernel
   * sums to 1, over the reflect-padded image as {@link #blur}; clamped to 0..1.
   */
  static FloatImage sharpen(FloatImage source, int radius, double sigma, double alpha) {
    int size = radius * 2 + 1;
    float[][] kernel = gaussianKernel(size, sigma);
    float factor = (float) -(alpha * 10);
    float[] flat = new float[size * size];
    for (int i = 0; i < size; i++) {
      for (int j = 0; j < size; j++) {
        kernel[i][j] *= factor;
        flat[i * size + j] = kernel[i][j];
      }
    }
    kernel[radius][radius] = kernel[radius][radius] - torchSum(flat) + 1f;
    FloatImage out = convolve(source, kernel, radius);
    for (int i = 0; i < out.data().length; i++) {
      out.data()[i] = Math.min(Math.max(out.data()[i], 0f), 1f);
    }
    return out;
  }

  /**
   * ImageBlend: {@code image1 * (1 - f) + mode(image1, image2) * f}, clamped to 0..1; image2 first
   * scaled (bicubic, centre crop) to image1's size when they differ.
   */
  static FloatImage blend(FloatImage a, FloatImage b, double factor, String mode) {
    if (a.width() != b.width() || a.height() != b.height()) {
      b = scale(cropCenter(b, a.width(), a.height()), a.width(), a.height(), "bicubic");
    }
    float keep = (float) (1 - factor);
    float take = (float) factor;
    FloatImage out = FloatImage.blank(a.width(), a.height(), 3);
    for (int i = 0; i < out.data().length; i++) {
      float x = a.data()[i];
      float y = b.data()[i];
      float m =
          switch (mode) {
            case "normal" -> y;
            case "multiply" -> x * y;
            case "screen" -> 1f - (1f - x) * (1f - y);
            case "overlay" -> x <= 0.5f ? 2f * x * y : 1f - 2f * (1f - x) * (1f - y);
            case "soft_light" ->
                y <= 0.5f
                    ? x - (1f - 2f * y) * x * (1f - x)
                    : x + (2f * y - 1f) * (softLightG(x) - x);
            case "difference" -> x - y;
            default -> throw new IllegalArgumentException("Unsupported blend mode: " + mode);
          };
      float v = x * keep + m * take;
      out.data()[i] = Math.min(Math.max(v, 0f), 1f);
    }
    return out;
  }

  private static float softLightG(float x) {
    return x <= 0.25f ? ((16f * x - 12f) * x + 4f) * x : (float) Math.sqrt(x);
  }

  /** ImageCrop: from (x, y) — moved inside the image — at most width × height. */
  static FloatImage cropAt(FloatImage source, int width, int height, int x, int y) {
    x = Math.min(x, source.width() - 1);
    y = Math.min(y, source.height() - 1);
    return crop(
        source,
        x,
        y,
        Math.min(x + width, source.width()) - x,
        Math.min(y + height, source.height()) - y);
  }

  /**
   * ComfyUI's gaussian_kernel in float32: torch.linspace (its {@code start + step * i} fused),
   * meshgrid, sqrt, exp, divided by torch's sum (in its order: see {@link #torchSum}). torch's sqrt
   * and exp come from MKL and SLEEF, within an ulp of Java's: a few weights differ by one.
   */
  static float[][] gaussianKernel(int size, double sigma) {
    float[] axis = new float[size];
    float step = size == 1 ? 0f : 2f / (size - 1);
    int halfway = size / 2;
    for (int i = 0; i < size; i++) {
      axis[i] =
          i < halfway
              ? Math.fma(step, (float) i, -1f)
              : Math.fma(-step, (float) (size - 1 - i), 1f);
    }
    float denominator = (float) (2.0 * sigma * sigma);
    float[] g = new float[size * size];
    for (int i = 0; i < size; i++) {
      for (int j = 0; j < size; j++) {
        float d = (float) Math.sqrt(axis[i] * axis[i] + axis[j] * axis[j]);
        g[i * size + j] = (float) Math.exp(-(d * d) / denominator);
      }
    }
    float sum = torchSum(g);
    float[][] kernel = new float[size][size];
    for (int i = 0; i < size; i++) {
      for (int j = 0; j < size; j++) {
        kernel[i][j] = g[i * size + j] / sum;
      }
    }
    return kernel;
  }

  /** The SIMD width (floats) of torch's CPU kernels on AVX2, the common case. */
  private static final int LANES = 8;

  /**
   * torch's float sum of a contiguous tensor (aten's cascade_sum on AVX2): 8-lane vector
   * accumulators over 4 interleaved rows with cascade levels, the tail added to the lanes in order.
   */
  static float torchSum(float[] x) {
    int vectors = x.length / LANES;
    int rows = vectors / 4;
    float[][] partial = multiRowSum(x, rows);
    for (int i = rows * 4; i < vectors; i++) {
      for (int l = 0; l < LANES; l++) {
        partial[0][l] += x[i * LANES + l];
      }
    }
    for (int k = 1; k < 4; k++) {
      for (int l = 0; l < LANES; l++) {
        partial[0][l] += partial[k][l];
      }
    }
    float sum = 0f;
    for (int i = vectors * LANES; i < x.length; i++) {
      sum += x[i];
    }
    for (int l = 0; l < LANES; l++) {
      sum += partial[0][l];
    }
    return sum;
  }

  private static float[][] multiRowSum(float[] x, int size) {
    int levels = 4;
    int ceilLog2 = size <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(size - 1);
    int power = Math.max(4, ceilLog2 / levels);
    int step = 1 << power;
    int mask = step - 1;
    float[][][] acc = new float[levels][4][LANES];
    int i = 0;
    for (; i + step <= size; i += step) {
      for (int j = 0; j < step; j++) {
        for (int k = 0; k < 4; k++) {
          for (int l = 0; l < LANES; l++) {
            acc[0][k][l] += x[((i + j) * 4 + k) * LANES + l];
          }
        }
      }
      for (int j = 1; j < levels; j++) {
        for (int k = 0; k < 4; k++) {
          for (int l = 0; l < LANES; l++) {
            acc[j][k][l] += acc[j - 1][k][l];
            acc[j - 1][k][l] = 0f;
          }
        }
        if ((i & (mask << (j * power))) != 0) {
          break;
        }
      }
    }
    for (; i < size; i++) {
      for (int k = 0; k < 4; k++) {
        for (int l = 0; l < LANES; l++) {
          acc[0][k][l] += x[(i * 4 + k) * LANES + l];
        }
      }
    }
    for (int j = 1; j < levels; j++) {
      for (int k = 0; k < 4; k++) {
        for (int l = 0; l < LANES; l++) {
          acc[0][k][l] += acc[j][k][l];
        }
      }
    }
    return acc[0];
  }

  private static int reflect(int i, int n) {
    if (n == 1) {
      return 0;
    }
    while (i < 0 || i >= n) {
      i = i < 0 ? -i : 2 * (n - 1) - i;
    }
    return i;
  }

  /**
   * ImagePadForOutpaint: the image on a 0.5 grey canvas (saved as 127: 127.5 truncates), and a mask
   * that is 1 in the padding and, inside, {@code ((f - d) / f)²} within {@code f = feathering} of a
   * padded side ({@code d} counted from 0 at the top and left, from 1 at the bottom and right) —
   * only when {@code 2f} is less than both the height and the width.
   */
  static FloatImage[] padForOutpaint(
      FloatImage source, int left, int top, int right, int bottom, int feathering) {
    int d2 = source.height();
    int d3 = source.width();
    int nw = d3 + left + right;
    int nh = d2 + top + bottom;
    FloatImage image = FloatImage.blank(nw, nh, 3);
    java.util.Arrays.fill(image.data(), 0.5f);
    for (int y = 0; y < d2; y++) {
      System.arraycopy(
          source.data(), y * d3 * 3, image.data(), ((y + top) * nw + left) * 3, d3 * 3);
    }
    FloatImage mask = FloatImage.blank(nw, nh, 1);
    java.util.Arrays.fill(mask.data(), 1f);
    boolean feather = feathering > 0 && feathering * 2 < d2 && feathering * 2 < d3;
    for (int i = 0; i < d2; i++) {
      for (int j = 0; j < d3; j++) {
        float value = 0f;
        if (feather) {
          int dt = top != 0 ? i : d2;
          int db = bottom != 0 ? d2 - i : d2;
          int dl = left != 0 ? j : d3;
          int dr = right != 0 ? d3 - j : d3;
          int d = Math.min(Math.min(dt, db), Math.min(dl, dr));
          if (d < feathering) {
            double v = (feathering - d) / (double) feathering;
            value = (float) (v * v);
          }
        }
        mask.set(j + left, i + top, 0, value);
      }
    }
    return new FloatImage[] {image, mask};
  }
}
