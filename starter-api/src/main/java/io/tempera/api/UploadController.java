package io.tempera.api;

import io.tempera.config.TemperaProperties;
import io.tempera.outputs.OutputStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.codec.multipart.FilePart;
import org.springframework.http.codec.multipart.Part;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Uploads a file into a project ({@code {root}/{projectId}/uploads/}) so generations can use it as
 * an image parameter. Stored under a content hash: uploading the same bytes twice gives the same
 * path.
 */
@RestController
public class UploadController {

  private final OutputStore outputs;
  private final TemperaProperties properties;

  public UploadController(OutputStore outputs, TemperaProperties properties) {
    this.outputs = outputs;
    this.properties = properties;
  }

  @PostMapping(
      value = "/api/projects/{projectId}/uploads",
      consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
  public Mono<ResponseEntity<ApiMessages.Upload>> upload(
      @PathVariable String projectId, @RequestPart(value = "file", required = false) Part part) {
    if (!OutputStore.safeSegment(projectId)) {
      return Mono.error(
          ApiException.badRequest(
              "INVALID_FIELD", "projectId must be 1-128 letters, digits, '_', '-' or '.'"));
    }
    if (!(part instanceof FilePart file)) {
      return Mono.error(
          ApiException.badRequest(
              "MISSING_FILE", "Send the image as a multipart file field named 'file'"));
    }
    Path dir = outputs.projectDir(projectId).resolve("uploads");
    return Mono.fromCallable(
            () -> {
              Files.createDirectories(dir);
              return Files.createTempFile(dir, ".upload-", ".part");
            })
        .subscribeOn(Schedulers.boundedElastic())
        .flatMap(temp ->
            DataBufferUtils.write(
                    file.content().limitRate(16).transform(limit(properties.maxUploadBytes())),
                    temp)
                .then(
                    Mono.fromCallable(() -> store(temp, dir))
                        .subscribeOn(Schedulers.boundedElastic()))
                .doOnError(e -> deleteQuietly(temp)))
        .map(upload -> ResponseEntity.status(HttpStatus.CREATED).body(upload));
  }

  private static java.util.function.Function<
          reactor.core.publisher.Flux<org.springframework.core.io.buffer.DataBuffer>,
          org.reactivestreams.Publisher<org.springframework.core.io.buffer.DataBuffer>>
      limit(long maxBytes) {
    return flux -> {
      long[] seen = {0};
      return flux.handle((buffer, sink) -> {
        seen[0] += buffer.readableByteCount();
        if (seen[0] > maxBytes) {
          DataBufferUtils.release(buffer);
          sink.error(
              new ApiException(
                  HttpStatus.CONTENT_TOO_LARGE,
                  "FILE_TOO_LARGE",
                  "Uploads are limited to " + maxBytes + " bytes"));
        } else {
          sink.next(buffer);
        }
      });
    };
  }

  private ApiMessages.Upload store(Path temp, Path dir) throws IOException {
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
    if (size == 0 || extension == null) {
      deleteQuietly(temp);
      throw new ApiException(
          HttpStatus.UNSUPPORTED_MEDIA_TYPE,
          "UNSUPPORTED_FILE",
          "Uploads must be PNG, JPEG, WebP or GIF images");
    }
    Path target = dir.resolve(sha256(temp).substring(0, 24) + extension);
    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return new ApiMessages.Upload("uploads/" + target.getFileName(), contentType, size);
  }

  private static String sha256(Path file) throws IOException {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      try (var in = new java.security.DigestInputStream(Files.newInputStream(file), digest)) {
        in.transferTo(java.io.OutputStream.nullOutputStream());
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteQuietly(Path temp) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
