package io.tempera.api;

import io.tempera.config.TemperaProperties;
import io.tempera.outputs.ImageSize;
import io.tempera.outputs.OutputStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.multipart.FilePartEvent;
import org.springframework.http.codec.multipart.PartEvent;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Uploads a file into a project ({@code {root}/{projectId}/uploads/}) so generations can use it as
 * an image parameter. Stored under a content hash: uploading the same bytes twice gives the same
 * path.
 *
 * <p>Limits, each refused as soon as it is passed: a body whose Content-Length is over {@code
 * tempera.max-upload-bytes} (plus room for the multipart framing) is refused 413 {@code
 * FILE_TOO_LARGE} before a byte of it is read; otherwise the multipart body is streamed part by
 * part (nothing is spooled but the file itself, into its project's folder) and reading stops the
 * moment the file passes the limit (413 {@code FILE_TOO_LARGE}), the request has more than {@value
 * #MAX_PARTS} parts (413 {@code TOO_MANY_PARTS}) or its other fields more than {@value
 * #MAX_FIELD_BYTES} bytes (413 {@code FIELDS_TOO_LARGE}). The stored file must be a PNG, JPEG, WebP
 * or GIF whose header gives its size (else 415 {@code UNSUPPORTED_FILE}) within {@code
 * tempera.limits.max-image-pixels} and {@code max-image-dimension} (else 422 {@code
 * IMAGE_TOO_LARGE}, read from the header: nothing is decoded). The uploads folder is reached
 * without any symbolic link below the output root (else 403 {@code UNSAFE_PATH}). The answer's
 * {@code url} reads the upload back ({@link #readUpload}), scoped to its project like outputs.
 */
@RestController
public class UploadController {

  private static final Logger log = LoggerFactory.getLogger(UploadController.class);

  /** The most parts one upload request may have: the file and a few form fields. */
  static final int MAX_PARTS = 16;

  /** The most bytes all the fields other than the file may have together. */
  static final long MAX_FIELD_BYTES = 64 * 1024;

  /** What the multipart framing (boundaries, part headers) may add to the file's size. */
  static final long FRAMING_BYTES = MAX_FIELD_BYTES + 16 * 1024;

  /** The content types an upload can have (the images {@link #store} accepts). */
  private static final java.util.Set<String> IMAGE_TYPES =
      java.util.Set.of("image/png", "image/jpeg", "image/webp", "image/gif");

  private final OutputStore outputs;
  private final TemperaProperties properties;
  private final io.tempera.security.SignedUrls signedUrls;

  public UploadController(
      OutputStore outputs,
      TemperaProperties properties,
      io.tempera.security.SignedUrls signedUrls) {
    this.outputs = outputs;
    this.properties = properties;
    this.signedUrls = signedUrls;
  }

  /** Whether {@code path} (an image parameter's value) names a file in the project's uploads. */
  static boolean isUploadPath(String path) {
    return path.startsWith("uploads/") && uploadName(path.substring("uploads/".length()));
  }

  /** Whether {@code name} can be an upload's file name (one segment, not hidden). */
  private static boolean uploadName(String name) {
    return OutputStore.safeSegment(name);
  }

  /** The route reading back the upload at {@code path} ({@code uploads/<name>}) of a project. */
  static String readBackPath(String projectId, String path) {
    return "/api/projects/" + projectId + "/" + path;
  }

  /**
   * An uploaded file read back, for a key of its project or by a signed URL (the {@code url} the
   * upload's answer and a generation's {@code inputs} give, which works without a key until it
   * expires). Another project's upload is answered as a project that does not exist; a name that is
   * not in the uploads folder, a symbolic link or not an image as if there were no such upload.
   */
  @org.springframework.web.bind.annotation.GetMapping("/api/projects/{projectId}/uploads/{name}")
  @io.swagger.v3.oas.annotations.responses.ApiResponse(
      responseCode = "200",
      description = "The uploaded image (PNG, JPEG, WebP or GIF)",
      content = {
        @io.swagger.v3.oas.annotations.media.Content(
            mediaType = "image/*",
            schema =
                @io.swagger.v3.oas.annotations.media.Schema(type = "string", format = "binary"))
      })
  public Mono<ResponseEntity<org.springframework.core.io.Resource>> readUpload(
      @PathVariable String projectId,
      @PathVariable String name,
      @org.springframework.web.bind.annotation.RequestParam(required = false) String expires,
      @org.springframework.web.bind.annotation.RequestParam(required = false) String signature,
      @org.springframework.security.core.annotation.AuthenticationPrincipal
          io.tempera.security.Caller caller) {
    boolean signed = expires != null || signature != null;
    boolean granted =
        signed && signedUrls.grants(readBackPath(projectId, "uploads/" + name), expires, signature);
    if (!granted && caller == null) {
      return Mono.error(
          GenerationController.unauthenticated(
              signed, "read the generation (its inputs) again for a fresh one"));
    }
    if (!OutputStore.safeSegment(projectId)) {
      return Mono.error(
          ApiException.badRequest(
              "INVALID_FIELD", "projectId must be 1-128 letters, digits, '_', '-' or '.'"));
    }
    if (!uploadName(name)) {
      return Mono.error(
          ApiException.badRequest(
              "INVALID_FIELD",
              "name must be an upload's file name as its path gives it (uploads/<name>): 1-128"
                  + " letters, digits, '_', '-' or '.', starting with a letter or digit"));
    }
    if (!granted && !caller.actsFor(projectId)) {
      return Mono.error(GenerationService.unknownProject());
    }
    return Blocking.call(() -> {
      Path file = outputs.projectDir(projectId).resolve("uploads").resolve(name);
      Optional<Path> found = outputs.regularFile(file);
      String contentType = found.isEmpty() ? null : OutputStore.contentType(found.get());
      if (contentType == null || !IMAGE_TYPES.contains(contentType)) {
        // never uploaded, deleted since, a symbolic link or not an image: all answered alike
        throw ApiException.notFound(
            "Project "
                + projectId
                + " has no upload named '"
                + name
                + "' (it was never uploaded here or has been deleted since)");
      }
      long size = Files.size(found.get());
      return ResponseEntity.ok()
          .contentType(MediaType.parseMediaType(contentType))
          .contentLength(size)
          .cacheControl(
              org.springframework.http.CacheControl.maxAge(java.time.Duration.ofDays(1))
                  .cachePrivate())
          .body((org.springframework.core.io.Resource) new NoFollowFileResource(found.get(), size));
    });
  }

  @PostMapping(
      value = "/api/projects/{projectId}/uploads",
      consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  @io.swagger.v3.oas.annotations.parameters.RequestBody(
      required = true,
      description = "One part named file: a PNG, JPEG, WebP or GIF",
      content =
          @io.swagger.v3.oas.annotations.media.Content(
              mediaType = MediaType.MULTIPART_FORM_DATA_VALUE,
              schema =
                  @io.swagger.v3.oas.annotations.media.Schema(
                      type = "object",
                      requiredProperties = {"file"}),
              schemaProperties =
                  @io.swagger.v3.oas.annotations.media.SchemaProperty(
                      name = "file",
                      schema =
                          @io.swagger.v3.oas.annotations.media.Schema(
                              type = "string",
                              format = "binary"))))
  public Mono<ResponseEntity<ApiMessages.Upload>> upload(
      @PathVariable String projectId,
      @io.swagger.v3.oas.annotations.Parameter(hidden = true) @RequestHeader HttpHeaders headers,
      @io.swagger.v3.oas.annotations.Parameter(hidden = true) @RequestBody Flux<PartEvent> parts,
      @org.springframework.security.core.annotation.AuthenticationPrincipal
          io.tempera.security.Caller caller) {
    if (!OutputStore.safeSegment(projectId)) {
      return Mono.error(
          ApiException.badRequest(
              "INVALID_FIELD", "projectId must be 1-128 letters, digits, '_', '-' or '.'"));
    }
    if (caller == null || !caller.actsFor(projectId)) {
      return Mono.error(GenerationService.unknownProject()); // refused before the body is read
    }
    long maxBytes = properties.maxUploadBytes();
    if (headers.getContentLength() > maxBytes + FRAMING_BYTES) {
      return Mono.error(fileTooLarge(maxBytes)); // refused before a byte of the body is read
    }
    return Mono.fromCallable(() -> new Receiving(projectId, uploadsDir(projectId), maxBytes))
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(receiving ->
            parts
                .publishOn(Schedulers.boundedElastic(), 8)
                .<Void>handle((event, sink) -> {
                  try {
                    receiving.accept(event);
                  } catch (IOException | RuntimeException e) {
                    sink.error(e);
                  }
                })
                .then(Mono.fromCallable(receiving::finish))
                .doOnError(e -> receiving.discard())
                .doOnCancel(receiving::discard))
        .map(upload -> ResponseEntity.status(HttpStatus.CREATED).body(upload));
  }

  private Path uploadsDir(String projectId) throws IOException {
    try {
      return outputs.directoryForWriting(outputs.projectDir(projectId).resolve("uploads"));
    } catch (OutputStore.UnsafePathException e) {
      log.warn("upload into project {} refused: {}", projectId, e.getMessage());
      throw new ApiException(
          HttpStatus.FORBIDDEN,
          "UNSAFE_PATH",
          "Project "
              + projectId
              + "'s uploads folder is reached through a symbolic link or is not a folder; nothing"
              + " is written there");
    }
  }

  private static ApiException fileTooLarge(long maxBytes) {
    return new ApiException(
        HttpStatus.CONTENT_TOO_LARGE,
        "FILE_TOO_LARGE",
        "Uploads are limited to " + maxBytes + " bytes (tempera.max-upload-bytes)");
  }

  /** One upload's multipart events as they arrive, in order (one subscriber, sequential). */
  private final class Receiving {
    private final String projectId;
    private final Path dir;
    private final long maxBytes;
    private int parts;
    private boolean atPartStart = true;
    private boolean inFile;
    private long fileBytes;
    private long fieldBytes;
    private String filename;
    private Path temp;
    private FileChannel channel;

    Receiving(String projectId, Path dir, long maxBytes) {
      this.projectId = projectId;
      this.dir = dir;
      this.maxBytes = maxBytes;
    }

    void accept(PartEvent event) throws IOException {
      DataBuffer content = event.content();
      try {
        if (atPartStart) {
          if (++parts > MAX_PARTS) {
            throw new ApiException(
                HttpStatus.CONTENT_TOO_LARGE,
                "TOO_MANY_PARTS",
                "An upload is one multipart request of at most "
                    + MAX_PARTS
                    + " parts: the file in the field named 'file' and a few fields");
          }
          inFile = event instanceof FilePartEvent && "file".equals(event.name()) && temp == null;
          if (inFile) {
            filename = ((FilePartEvent) event).filename();
            temp = Files.createTempFile(dir, ".upload-", ".part");
            channel = FileChannel.open(temp, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
          }
        }
        int n = content.readableByteCount();
        if (inFile) {
          fileBytes += n;
          if (fileBytes > maxBytes) {
            throw fileTooLarge(maxBytes);
          }
          try (DataBuffer.ByteBufferIterator buffers = content.readableByteBuffers()) {
            while (buffers.hasNext()) {
              ByteBuffer buffer = buffers.next();
              while (buffer.hasRemaining()) {
                channel.write(buffer);
              }
            }
          }
        } else {
          fieldBytes += n;
          if (fieldBytes > MAX_FIELD_BYTES) {
            throw new ApiException(
                HttpStatus.CONTENT_TOO_LARGE,
                "FIELDS_TOO_LARGE",
                "The fields of an upload besides the file are limited to "
                    + MAX_FIELD_BYTES
                    + " bytes");
          }
        }
        atPartStart = event.isLast();
        if (event.isLast() && inFile) {
          channel.close();
          inFile = false;
        }
      } finally {
        DataBufferUtils.release(content);
      }
    }

    ApiMessages.Upload finish() throws IOException {
      if (temp == null || inFile) {
        discard();
        throw ApiException.badRequest(
            "MISSING_FILE", "Send the image as a multipart file field named 'file'");
      }
      try {
        return store(projectId, temp, dir, filename);
      } catch (IOException | RuntimeException e) {
        discard();
        throw e;
      }
    }

    void discard() {
      try {
        if (channel != null) {
          channel.close();
        }
        if (temp != null) {
          Files.deleteIfExists(temp);
        }
      } catch (IOException e) {
        log.warn("could not delete the partial upload {}: {}", temp, e.toString());
      }
    }
  }

  private ApiMessages.Upload store(String projectId, Path temp, Path dir, String filename)
      throws IOException {
    String contentType = OutputStore.contentType(temp);
    String extension =
        switch (contentType) {
          case "image/png" -> ".png";
          case "image/jpeg" -> ".jpg";
          case "image/webp" -> ".webp";
          case "image/gif" -> ".gif";
          default -> null;
        };
    long size = Files.size(temp);
    Optional<ImageSize.Dimensions> dimensions =
        extension == null ? Optional.empty() : ImageSize.of(temp);
    if (size == 0 || dimensions.isEmpty()) {
      Files.deleteIfExists(temp);
      throw new ApiException(
          HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          "UNSUPPORTED_FILE",
          "Uploads must be PNG, JPEG, WebP or GIF images whose header gives their size");
    }
    Optional<String> tooLarge =
        outputs.imageLimits().problem(displayName(filename), dimensions.get());
    if (tooLarge.isPresent()) {
      Files.deleteIfExists(temp);
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "IMAGE_TOO_LARGE",
          tooLarge.get()
              + " (tempera.limits.max-image-pixels, tempera.limits.max-image-dimension)");
    }
    // all of it must be that image (decoded, or its container checked): not a header before
    // something else
    Optional<String> notImage =
        io.tempera.outputs.ImageStructure.problem(temp, contentType, dimensions.get());
    if (notImage.isPresent()) {
      Files.deleteIfExists(temp);
      throw new ApiException(
          HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          "UNSUPPORTED_FILE",
          "The file " + displayName(filename) + " is not a whole image: " + notImage.get());
    }
    Path target = dir.resolve(sha256(temp).substring(0, 24) + extension);
    // a link planted under the target's name is replaced, never followed (a rename)
    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    String path = "uploads/" + target.getFileName();
    return new ApiMessages.Upload(
        path, signedUrls.sign(readBackPath(projectId, path)), contentType, size);
  }

  /** The client's file name, for a message: its last segment, printable, at most 100 chars. */
  static String displayName(String filename) {
    if (filename == null) {
      return "uploaded";
    }
    String name =
        filename.substring(Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\')) + 1);
    name = name.replaceAll("[\\p{Cntrl}\\p{Zl}\\p{Zp}]", "").strip();
    if (name.isEmpty()) {
      return "uploaded";
    }
    return name.length() > 100 ? name.substring(0, 100) + "…" : name;
  }

  private static String sha256(Path file) throws IOException {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      try (var in =
          new java.security.DigestInputStream(
              Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS), digest)) {
        in.transferTo(java.io.OutputStream.nullOutputStream());
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
