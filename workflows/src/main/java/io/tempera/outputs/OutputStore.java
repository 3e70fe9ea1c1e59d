package io.tempera.outputs;

import io.tempera.generation.OutputRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where generations' files live: {@code {root}/{projectId}/outputs/renders/{nodeId}/}. Project and
 * node ids are checked to be safe path segments, and every resolved path must stay under the root.
 *
 * <p>Confinement: nothing below the root is reached through a symbolic link. {@link #regularFile}
 * (for reads) and {@link #directoryForWriting} (for writes) look at each path element below the
 * root without following links and refuse a link anywhere; {@link #openRead} opens with {@code
 * NOFOLLOW_LINKS}. A link planted in a project (an output or preview replaced by a link to a system
 * file, a link in {@code uploads/}, a project folder that is a link) is neither served, nor copied
 * to a backend, nor written through.
 */
public final class OutputStore {

  public static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  private final Path root;
  private final ImageLimits imageLimits;

  public OutputStore(Path root) {
    this(root, ImageLimits.defaults());
  }

  /**
   * @param imageLimits how large an image input may be (checked at upload and before a backend gets
   *     it)
   */
  public OutputStore(Path root, ImageLimits imageLimits) {
    this.imageLimits = java.util.Objects.requireNonNull(imageLimits, "imageLimits");
    this.root = root.toAbsolutePath().normalize();
    try {
      Files.createDirectories(this.root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create output root " + this.root, e);
    }
  }

  public Path root() {
    return root;
  }

  /** How large an image input may be. */
  public ImageLimits imageLimits() {
    return imageLimits;
  }

  /** A path under the root refused because a symbolic link (or a non-folder) is in the way. */
  public static final class UnsafePathException extends IOException {
    public UnsafePathException(String message) {
      super(message);
    }
  }

  /**
   * The file at {@code path} when it is a regular file under the root reached without any symbolic
   * link below the root (the file itself included); empty when it is missing, not a regular file,
   * outside the root, or behind a link.
   */
  public Optional<Path> regularFile(Path path) {
    Path file = path.toAbsolutePath().normalize();
    if (!file.startsWith(root) || file.equals(root)) {
      return Optional.empty();
    }
    Path at = root;
    java.nio.file.attribute.BasicFileAttributes attributes = null;
    for (Path element : root.relativize(file)) {
      at = at.resolve(element);
      try {
        attributes =
            Files.readAttributes(
                at,
                java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
      } catch (IOException e) {
        return Optional.empty();
      }
      if (attributes.isSymbolicLink()) {
        return Optional.empty();
      }
    }
    return attributes != null && attributes.isRegularFile() ? Optional.of(file) : Optional.empty();
  }

  /** Whether {@link #regularFile} finds it. */
  public boolean isRegularFile(Path path) {
    return regularFile(path).isPresent();
  }

  /**
   * Opens a file found by {@link #regularFile} without following a link at its last element (the
   * elements above were checked); a {@link java.nio.file.NoSuchFileException} when it is not one.
   */
  public InputStream openRead(Path path) throws IOException {
    Path file =
        regularFile(path).orElseThrow(() -> new java.nio.file.NoSuchFileException(path.toString()));
    return Files.newInputStream(
        file, java.nio.file.StandardOpenOption.READ, java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Makes sure {@code dir} (under the root) is a folder reached without any symbolic link below the
   * root, creating what is missing one element at a time; {@link UnsafePathException} when a link
   * or a file is in the way.
   */
  public Path directoryForWriting(Path dir) throws IOException {
    Path target = inside(dir);
    Path at = root;
    for (Path element : root.relativize(target)) {
      if (element.toString().isEmpty()) {
        continue;
      }
      at = at.resolve(element);
      java.nio.file.attribute.BasicFileAttributes attributes;
      try {
        attributes =
            Files.readAttributes(
                at,
                java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
      } catch (java.nio.file.NoSuchFileException missing) {
        try {
          Files.createDirectory(at);
        } catch (java.nio.file.FileAlreadyExistsException raced) {
          // made meanwhile: checked below like any other
        }
        attributes =
            Files.readAttributes(
                at,
                java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
      }
      if (attributes.isSymbolicLink() || !attributes.isDirectory()) {
        throw new UnsafePathException(
            root.relativize(at)
                + (attributes.isSymbolicLink() ? " is a symbolic link" : " is not a folder"));
      }
    }
    return target;
  }

  public static boolean safeSegment(String s) {
    return s != null && SEGMENT.matcher(s).matches() && !s.contains("..");
  }

  public Path projectDir(String projectId) {
    requireSegment("projectId", projectId);
    return inside(root.resolve(projectId));
  }

  /** The folder a node's renders go to. */
  public Path rendersDir(String projectId, String nodeId) {
    requireSegment("nodeId", nodeId);
    return inside(projectDir(projectId).resolve("outputs").resolve("renders").resolve(nodeId));
  }

  /** Where the latest preview image of a generation is kept while it runs. */
  public Path previewFile(String projectId, String generationId) {
    requireSegment("generationId", generationId);
    return inside(
        projectDir(projectId)
            .resolve("outputs")
            .resolve("previews")
            .resolve(generationId + ".preview"));
  }

  /** A path relative to the root, resolved and checked to stay under it. */
  public Path resolve(String relative) {
    return inside(root.resolve(relative));
  }

  /** Describes a stored file as an output reference. */
  public OutputRef describe(String name, Path file) {
    try {
      long size = Files.size(file);
      String contentType = contentType(file);
      Integer width = null;
      Integer height = null;
      if (contentType.startsWith("image/")) {
        Optional<ImageSize.Dimensions> dims = ImageSize.of(file);
        if (dims.isPresent()) {
          width = dims.get().width();
          height = dims.get().height();
        }
      }
      return new OutputRef(
          name,
          root.relativize(file).toString().replace('\\', '/'),
          contentType,
          size,
          width,
          height);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read stored output " + file, e);
    }
  }

  /** The content type from the file's first bytes, falling back to its extension. */
  public static String contentType(Path file) throws IOException {
    byte[] head = new byte[32];
    int n;
    try (InputStream in = Files.newInputStream(file)) {
      n = in.readNBytes(head, 0, head.length);
    }
    if (n >= 8 && (head[0] & 0xff) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') {
      return "image/png";
    }
    if (n >= 3
        && (head[0] & 0xff) == 0xff
        && (head[1] & 0xff) == 0xd8
        && (head[2] & 0xff) == 0xff) {
      return "image/jpeg";
    }
    if (n >= 12
        && head[0] == 'R'
        && head[1] == 'I'
        && head[2] == 'F'
        && head[3] == 'F'
        && head[8] == 'W'
        && head[9] == 'E'
        && head[10] == 'B'
        && head[11] == 'P') {
      return "image/webp";
    }
    if (n >= 6 && head[0] == 'G' && head[1] == 'I' && head[2] == 'F') {
      return "image/gif";
    }
    if (n >= 18 && head[0] == 'B' && head[1] == 'M') {
      // the info header's size: 12 (OS/2) or 40 to 124 (Windows)
      int info = (head[14] & 0xff) | (head[15] & 0xff) << 8 | (head[16] & 0xff) << 16;
      if (head[17] == 0 && (info == 12 || (info >= 40 && info <= 124))) {
        return "image/bmp";
      }
    }
    if (n >= 12 && head[4] == 'f' && head[5] == 't' && head[6] == 'y' && head[7] == 'p') {
      // an ISO media file: AVIF when its major or a compatible brand says so
      for (int at = 8; at + 4 <= n; at += at == 8 ? 8 : 4) {
        String brand = new String(head, at, 4, java.nio.charset.StandardCharsets.ISO_8859_1);
        if (brand.equals("avif") || brand.equals("avis")) {
          return "image/avif";
        }
      }
    }
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".wav")) return "audio/wav";
    if (name.endsWith(".mp3")) return "audio/mpeg";
    if (name.endsWith(".flac")) return "audio/flac";
    if (name.endsWith(".mp4")) return "video/mp4";
    if (name.endsWith(".webm")) return "video/webm";
    if (name.endsWith(".txt")) return "text/plain";
    if (name.endsWith(".json")) return "application/json";
    return "application/octet-stream";
  }

  /**
   * A WebP's canvas size from its first chunk: VP8X (extended, e.g. animated), VP8L (lossless) or
   * VP8 (lossy); see {@link ImageSize}, which reads every format's.
   */
  static Optional<int[]> webpDimensions(Path file) {
    byte[] h;
    try (InputStream in = Files.newInputStream(file)) {
      h = in.readNBytes(30);
    } catch (IOException e) {
      return Optional.empty();
    }
    if (h.length < 30
        || !new String(h, 0, 4, java.nio.charset.StandardCharsets.US_ASCII).equals("RIFF")
        || !new String(h, 8, 4, java.nio.charset.StandardCharsets.US_ASCII).equals("WEBP")) {
      return Optional.empty();
    }
    return ImageSize.webp(h).map(d -> new int[] {d.width(), d.height()});
  }

  private Path inside(Path path) {
    Path normalized = path.toAbsolutePath().normalize();
    if (!normalized.startsWith(root)) {
      throw new IllegalArgumentException("path escapes the output root: " + path);
    }
    return normalized;
  }

  private static void requireSegment(String what, String value) {
    if (!safeSegment(value)) {
      throw new IllegalArgumentException(
          what
              + " must be 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit");
    }
  }
}
