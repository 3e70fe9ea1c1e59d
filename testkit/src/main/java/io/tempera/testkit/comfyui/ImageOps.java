package io.tempera.testkit.comfyui;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** The pixel work of the CPU nodes, on ARGB images. */
final class ImageOps {

  private ImageOps() {}

  static BufferedImage filled(int width, int height, int rgb) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_ARGB);
    int argb = 0xff000000 | (rgb & 0xffffff);
    int[] row = new int[width];
    java.util.Arrays.fill(row, argb);
    for (int y = 0; y < height; y++) {
      image.setRGB(0, y, width, 1, row, 0, width);
    }
    return image;
  }

  static BufferedImage copyArgb(BufferedImage source) {
    BufferedImage image =
        new BufferedImage(source.getWidth(), source.getHeight(), BufferedImage.TYPE_INT_ARGB);
    Graphics2D g = image.createGraphics();
    g.drawImage(source, 0, 0, null);
    g.dispose();
    return image;
  }

  static BufferedImage invert(BufferedImage source) {
    int w = source.getWidth();
    int h = source.getHeight();
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
    int[] px = source.getRGB(0, 0, w, h, null, 0, w);
    for (int i = 0; i < px.length; i++) {
      px[i] = 0xff000000 | (~px[i] & 0xffffff);
    }
    out.setRGB(0, 0, w, h, px, 0, w);
    return out;
  }

  static BufferedImage scale(BufferedImage source, int width, int height, String method) {
    BufferedImage out =
        new BufferedImage(Math.max(1, width), Math.max(1, height), BufferedImage.TYPE_INT_ARGB);
    Graphics2D g = out.createGraphics();
    Object hint =
        switch (method) {
          case "nearest-exact" -> RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR;
          case "bilinear", "area" -> RenderingHints.VALUE_INTERPOLATION_BILINEAR;
          default -> RenderingHints.VALUE_INTERPOLATION_BICUBIC;
        };
    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, hint);
    g.drawImage(source, 0, 0, out.getWidth(), out.getHeight(), null);
    g.dispose();
    return out;
  }

  /** Center crop to the target aspect ratio before scaling, as ImageScale's crop=center does. */
  static BufferedImage cropCenter(BufferedImage source, int width, int height) {
    double target = (double) width / height;
    double actual = (double) source.getWidth() / source.getHeight();
    if (Math.abs(target - actual) < 1e-9) {
      return source;
    }
    int w = source.getWidth();
    int h = source.getHeight();
    if (actual > target) {
      w = (int) Math.round(h * target);
    } else {
      h = (int) Math.round(w / target);
    }
    int x = (source.getWidth() - w) / 2;
    int y = (source.getHeight() - h) / 2;
    return source.getSubimage(x, y, Math.max(1, w), Math.max(1, h));
  }

  /** Gaussian blur with kernel size 2*radius+1, reflect padding (as torch's F.pad reflect). */
  static BufferedImage blur(BufferedImage source, int radius, double sigma) {
    int w = source.getWidth();
    int h = source.getHeight();
    int size = radius * 2 + 1;
    double[] kernel = new double[size];
    double sum = 0;
    for (int i = 0; i < size; i++) {
      double x = i - radius;
      kernel[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
      sum += kernel[i];
    }
    for (int i = 0; i < size; i++) {
      kernel[i] /= sum;
    }
    int[] px = source.getRGB(0, 0, w, h, null, 0, w);
    double[][] tmp = new double[3][w * h];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        double r = 0, g = 0, b = 0;
        for (int k = -radius; k <= radius; k++) {
          int p = px[y * w + reflect(x + k, w)];
          double weight = kernel[k + radius];
          r += ((p >> 16) & 0xff) * weight;
          g += ((p >> 8) & 0xff) * weight;
          b += (p & 0xff) * weight;
        }
        tmp[0][y * w + x] = r;
        tmp[1][y * w + x] = g;
        tmp[2][y * w + x] = b;
      }
    }
    int[] out = new int[w * h];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        double r = 0, g = 0, b = 0;
        for (int k = -radius; k <= radius; k++) {
          int index = reflect(y + k, h) * w + x;
          double weight = kernel[k + radius];
          r += tmp[0][index] * weight;
          g += tmp[1][index] * weight;
          b += tmp[2][index] * weight;
        }
        out[y * w + x] = 0xff000000 | (clamp(r) << 16) | (clamp(g) << 8) | clamp(b);
      }
    }
    BufferedImage result = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
    result.setRGB(0, 0, w, h, out, 0, w);
    return result;
  }

  /**
   * Pads with mid grey; returns the image and a mask that is 1 in the padding, feathered inwards.
   */
  static BufferedImage[] padForOutpaint(
      BufferedImage source, int left, int top, int right, int bottom, int feathering) {
    int w = source.getWidth();
    int h = source.getHeight();
    int nw = w + left + right;
    int nh = h + top + bottom;
    BufferedImage image = filled(nw, nh, 0x808080);
    Graphics2D g = image.createGraphics();
    g.drawImage(source, left, top, null);
    g.dispose();
    BufferedImage mask = new BufferedImage(nw, nh, BufferedImage.TYPE_INT_ARGB);
    for (int y = 0; y < nh; y++) {
      for (int x = 0; x < nw; x++) {
        double value;
        if (x < left || x >= left + w || y < top || y >= top + h) {
          value = 1.0;
        } else if (feathering > 0) {
          int dx =
              Math.min(
                  left > 0 ? x - left : Integer.MAX_VALUE,
                  right > 0 ? left + w - 1 - x : Integer.MAX_VALUE);
          int dy =
              Math.min(
                  top > 0 ? y - top : Integer.MAX_VALUE,
                  bottom > 0 ? top + h - 1 - y : Integer.MAX_VALUE);
          int d = Math.min(dx, dy);
          value = d < feathering ? Math.pow((feathering - d) / (double) feathering, 2) : 0.0;
        } else {
          value = 0.0;
        }
        int v = clamp(value * 255);
        mask.setRGB(x, y, 0xff000000 | (v << 16) | (v << 8) | v);
      }
    }
    return new BufferedImage[] {image, mask};
  }

  /** The mask LoadImage derives from alpha: 1 where transparent. */
  static BufferedImage alphaMask(BufferedImage source) {
    int w = source.getWidth();
    int h = source.getHeight();
    BufferedImage mask = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB);
    boolean hasAlpha = source.getColorModel().hasAlpha();
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int v = hasAlpha ? 255 - ((source.getRGB(x, y) >>> 24) & 0xff) : 0;
        mask.setRGB(x, y, 0xff000000 | (v << 16) | (v << 8) | v);
      }
    }
    return mask;
  }

  /** Drops alpha: what ComfyUI saves is RGB. */
  static BufferedImage rgb(BufferedImage source) {
    BufferedImage out =
        new BufferedImage(source.getWidth(), source.getHeight(), BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    g.drawImage(source, 0, 0, null);
    g.dispose();
    return out;
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

  private static int clamp(double v) {
    return (int) Math.max(0, Math.min(255, Math.round(v)));
  }
}
