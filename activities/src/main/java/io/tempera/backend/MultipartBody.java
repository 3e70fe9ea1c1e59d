package io.tempera.backend;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A {@code multipart/form-data} request body of files and plain fields, in the order added. Files
 * are streamed from disk when the request is sent, never read whole into memory.
 */
public final class MultipartBody {

  private final String boundary = "----tempera" + UUID.randomUUID().toString().replace("-", "");

  /**
   * Alternating text and files: each part's head (with the separator before it), then its content.
   */
  private final List<Object> pieces = new ArrayList<>();

  /** A file part, sent as application/octet-stream under its {@link #safeFilename}. */
  public MultipartBody file(String field, String filename, Path file) {
    pieces.add(
        separator()
            + "Content-Disposition: form-data; name=\""
            + field
            + "\"; filename=\""
            + safeFilename(filename)
            + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    pieces.add(file);
    return this;
  }

  /** A plain text field. */
  public MultipartBody field(String name, String value) {
    pieces.add(
        separator() + "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value);
    return this;
  }

  /** The Content-Type header's value, with the boundary. */
  public String contentType() {
    return "multipart/form-data; boundary=" + boundary;
  }

  /** The body; fails when a file cannot be opened. */
  public HttpRequest.BodyPublisher publisher() throws IOException {
    List<HttpRequest.BodyPublisher> parts = new ArrayList<>();
    for (Object piece : pieces) {
      parts.add(
          piece instanceof Path file
              ? noFollow(file)
              : HttpRequest.BodyPublishers.ofString((String) piece));
    }
    parts.add(HttpRequest.BodyPublishers.ofString("\r\n--" + boundary + "--\r\n"));
    return HttpRequest.BodyPublishers.concat(parts.toArray(HttpRequest.BodyPublisher[]::new));
  }

  /**
   * A file's bytes, opened with {@code NOFOLLOW_LINKS} each time the body is sent, with its length
   * (no chunking): a file input replaced by a symbolic link after it was checked is not read
   * through it (#16).
   */
  private static HttpRequest.BodyPublisher noFollow(Path file) throws IOException {
    java.nio.file.attribute.BasicFileAttributes attributes =
        java.nio.file.Files.readAttributes(
            file,
            java.nio.file.attribute.BasicFileAttributes.class,
            java.nio.file.LinkOption.NOFOLLOW_LINKS);
    if (!attributes.isRegularFile()) {
      throw new java.nio.file.FileSystemException(file.toString(), null, "not a regular file");
    }
    return HttpRequest.BodyPublishers.fromPublisher(
        HttpRequest.BodyPublishers.ofInputStream(() -> {
          try {
            return java.nio.file.Files.newInputStream(
                file,
                java.nio.file.StandardOpenOption.READ,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }),
        attributes.size());
  }

  /** A file name that cannot break out of its header: quotes and line breaks become "_". */
  public static String safeFilename(String filename) {
    return filename.replace("\"", "_").replace("\r", "_").replace("\n", "_");
  }

  private String separator() {
    return (pieces.isEmpty() ? "" : "\r\n") + "--" + boundary + "\r\n";
  }
}
