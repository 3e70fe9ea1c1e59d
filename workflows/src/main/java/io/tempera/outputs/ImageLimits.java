package io.tempera.outputs;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * How large an image Tempera lets through, checked from the file's header alone ({@link ImageSize})
 * before anything decodes it: at upload in the API and again in the worker before a file input is
 * sent to a backend. A picture of 20000 × 20000 pixels compresses to a few hundred KB and decodes
 * to gigabytes: the header says so first.
 *
 * @param maxPixels the most pixels (width × height) an image may have
 * @param maxDimension the most pixels either side may have
 */
public record ImageLimits(long maxPixels, int maxDimension) {

  /** 50 megapixels. */
  public static final long DEFAULT_MAX_PIXELS = 50_000_000L;

  public static final int DEFAULT_MAX_DIMENSION = 16384;

  public ImageLimits {
    if (maxPixels < 1 || maxDimension < 1) {
      throw new IllegalArgumentException(
          "image limits must be positive: max-image-pixels "
              + maxPixels
              + ", max-image-dimension "
              + maxDimension);
    }
  }

  public static ImageLimits defaults() {
    return new ImageLimits(DEFAULT_MAX_PIXELS, DEFAULT_MAX_DIMENSION);
  }

  /** The limits, with a null meaning the default. */
  public static ImageLimits of(Long maxPixels, Integer maxDimension) {
    return new ImageLimits(
        maxPixels == null ? DEFAULT_MAX_PIXELS : maxPixels,
        maxDimension == null ? DEFAULT_MAX_DIMENSION : maxDimension);
  }

  /**
   * Why the image of these dimensions is refused, naming it {@code name}, e.g. "The image x.png is
   * 20000 × 20000 pixels (400 megapixels); the limit is 16384 pixels a side and 50 megapixels in
   * all"; empty when it is within the limits.
   */
  public Optional<String> problem(String name, ImageSize.Dimensions size) {
    long pixels = (long) size.width() * size.height();
    if (pixels <= maxPixels && size.width() <= maxDimension && size.height() <= maxDimension) {
      return Optional.empty();
    }
    return Optional.of(
        "The image "
            + name
            + " is "
            + size.width()
            + " × "
            + size.height()
            + " pixels ("
            + megapixels(pixels)
            + "); the limit is "
            + maxDimension
            + " pixels a side and "
            + megapixels(maxPixels)
            + " in all");
  }

  /**
   * Why the image file is refused (see {@link #problem(String, ImageSize.Dimensions)}); empty when
   * it is within the limits or its header gives no size (not an image this can read).
   */
  public Optional<String> problem(String name, Path file) {
    return ImageSize.of(file).flatMap(size -> problem(name, size));
  }

  private static String megapixels(long pixels) {
    double mp = pixels / 1_000_000.0;
    return (mp == Math.rint(mp)
            ? String.valueOf((long) mp)
            : String.format(Locale.ROOT, "%.1f", mp))
        + " megapixels";
  }
}
