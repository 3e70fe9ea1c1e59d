package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendHttp;
import io.tempera.backend.MultipartBody;
import io.tempera.backend.gradio.GradioException.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Files on a Gradio server: inputs uploaded to {@code {prefix}/upload}, outputs found in replies
 * (FileData) and streamed from their url or {@code {prefix}/file=}, never from another host.
 */
final class GradioFiles {

  private static final long PREVIEW_MAX_BYTES = 8L << 20;

  private final GradioTransport transport;
  private final GradioDiscovery discovery;

  GradioFiles(GradioTransport transport, GradioDiscovery discovery) {
    this.transport = transport;
    this.discovery = discovery;
  }

  /**
   * POST {prefix}/upload (multipart, field "files"), streaming the file. Returns its path on the
   * server.
   */
  String upload(Path file) {
    String prefix = discovery.api().apiPrefix();
    String safeName = MultipartBody.safeFilename(file.getFileName().toString());
    MultipartBody form = new MultipartBody().file("files", file.getFileName().toString(), file);
    HttpResponse<String> response =
        transport.sendAuthenticated(() -> {
          try {
            return transport
                .calls()
                .request(prefix + "/upload")
                .header("Content-Type", form.contentType())
                .POST(form.publisher())
                .build();
          } catch (IOException e) {
            throw new GradioException(
                Kind.NOT_FOUND, "cannot read " + file + ": " + e.getMessage(), null, e);
          }
        });
    if (response.statusCode() == 413) {
      throw new GradioException(
          Kind.VALIDATION,
          "the file " + safeName + " is larger than the Gradio app accepts",
          413,
          null);
    }
    if (response.statusCode() != 200) {
      throw GradioTransport.httpError(prefix + "/upload", response);
    }
    JsonNode paths = transport.parse(response, prefix + "/upload");
    if (!paths.isArray() || paths.size() != 1 || !paths.get(0).isTextual()) {
      throw new GradioException(
          Kind.PROTOCOL,
          prefix + "/upload did not answer a list of one path: " + abbreviate(response.body()));
    }
    return paths.get(0).asText();
  }

  /**
   * The FileData value for an uploaded file, as Gradio 5.5+ requires (older versions accept it).
   */
  static ObjectNode fileData(String serverPath, String origName) {
    ObjectNode value = JsonNodeFactory.instance.objectNode();
    value.put("path", serverPath);
    value.put("orig_name", origName);
    value.putObject("meta").put("_type", "gradio.FileData");
    return value;
  }

  /**
   * Streams an output file to {@code target} (never whole in memory), from its {@code url} when
   * that is on this server, else from {@code {prefix}/file=<path>}. Checks the size the server
   * reported.
   */
  long download(GradioFile file, Path target) {
    HttpResponse<InputStream> response = open(file);
    try (InputStream in = response.body()) {
      return BackendHttp.save(
          in,
          target,
          bytes -> {
            if (file.size() != null && file.size() != bytes) {
              throw new GradioException(
                  Kind.PROTOCOL,
                  "the output "
                      + file.name()
                      + " is "
                      + bytes
                      + " bytes; the server said "
                      + file.size());
            }
          });
    } catch (IOException e) {
      throw transport.calls().failure("file=" + file.path(), e);
    }
  }

  /** A small PNG or JPEG output's bytes, for a live preview; null when it is neither or too big. */
  byte[] previewBytes(GradioFile file) {
    String name = file.name().toLowerCase(Locale.ROOT);
    String mime = file.mimeType() == null ? "" : file.mimeType();
    boolean image =
        name.endsWith(".png")
            || name.endsWith(".jpg")
            || name.endsWith(".jpeg")
            || mime.equals("image/png")
            || mime.equals("image/jpeg");
    if (!image || (file.size() != null && file.size() > PREVIEW_MAX_BYTES)) {
      return null;
    }
    HttpResponse<InputStream> response = open(file);
    try (InputStream in = response.body()) {
      byte[] bytes = in.readNBytes((int) PREVIEW_MAX_BYTES + 1);
      return bytes.length > PREVIEW_MAX_BYTES ? null : bytes;
    } catch (IOException e) {
      return null;
    }
  }

  private HttpResponse<InputStream> open(GradioFile file) {
    HttpResponse<InputStream> response = transport.openFile(uri(file), "file=" + file.path());
    if (response.statusCode() != 200) {
      try {
        response.body().close();
      } catch (IOException ignored) {
        // nothing to read
      }
      Kind kind =
          response.statusCode() == 404 || response.statusCode() == 403
              ? Kind.NOT_FOUND
              : response.statusCode() == 401 ? Kind.AUTH : Kind.SERVER_ERROR;
      throw new GradioException(
          kind,
          "the output " + file.name() + " could not be fetched: HTTP " + response.statusCode(),
          response.statusCode(),
          null);
    }
    return response;
  }

  /**
   * {prefix}/file=path on this server when the file has a path (Gradio 4.44's /call cuts some urls
   * short, so the path is the one to trust), else its url when that points at this server: never
   * another host.
   */
  URI uri(GradioFile file) {
    URI baseUrl = transport.baseUrl();
    boolean hasPath = file.path() != null && !file.path().isBlank();
    if (hasPath && (file.path().startsWith("http://") || file.path().startsWith("https://"))) {
      throw new GradioException(
          Kind.PROTOCOL, "an output file lives on another host: " + abbreviate(file.path()));
    }
    if (hasPath) {
      return URI.create(
          baseUrl + discovery.api().apiPrefix() + "/file=" + BackendHttp.encodePath(file.path()));
    }
    if (file.url() != null && file.url().startsWith(baseUrl + "/")) {
      return URI.create(file.url());
    }
    throw new GradioException(
        Kind.PROTOCOL,
        file.url() != null
            ? "an output file lives on another host: " + abbreviate(file.url())
            : "an output file has neither a path nor a url on " + baseUrl);
  }

  /** Every FileData inside a value (a dict with a path and gradio.FileData meta, or path+url). */
  static void collect(JsonNode value, List<GradioFile> into) {
    if (value == null) {
      return;
    }
    if (value.isObject()) {
      boolean fileData =
          "gradio.FileData".equals(value.path("meta").path("_type").asText(null))
              || (value.path("path").isTextual() && value.has("url") && value.has("orig_name"));
      if (fileData && (value.path("path").isTextual() || value.path("url").isTextual())) {
        into.add(
            new GradioFile(
                value.path("path").asText(null),
                value.path("url").asText(null),
                value.path("orig_name").asText(null),
                value.path("mime_type").asText(null),
                value.path("size").isIntegralNumber() ? value.get("size").asLong() : null));
        return;
      }
      value.elements().forEachRemaining(v -> collect(v, into));
    } else if (value.isArray()) {
      value.forEach(v -> collect(v, into));
    }
  }
}
