package io.tempera.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.tempera.codec.EncryptionCodec;
import io.temporal.api.common.v1.Payload;
import io.temporal.api.common.v1.Payloads;
import io.temporal.payload.codec.PayloadCodecException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * The codec server for the Temporal UI and CLI, for operators ({@code /api/admin/codec}): {@code
 * POST /decode} and {@code POST /encode} take and answer Temporal's codec-server JSON, the proto
 * JSON of {@code Payloads} ({@code {"payloads":[{"metadata":{"encoding":"<base64>"},
 * "data":"<base64>"}]}}), through the payload encryption ({@link EncryptionCodec}). With encryption
 * off both answer 404 {@code ENCRYPTION_OFF}. The {@code X-Namespace} header is not needed: one set
 * of keys serves every namespace.
 */
@RestController
@RequestMapping("/api/admin/codec")
public class CodecController {

  private static final Logger log = LoggerFactory.getLogger(CodecController.class);

  /** The largest body taken: Temporal's own limit is 2 MB a payload; a request carries several. */
  static final int MAX_BODY_BYTES = 16 * 1024 * 1024;

  private final ObjectProvider<EncryptionCodec> codec;

  public CodecController(ObjectProvider<EncryptionCodec> codec) {
    this.codec = codec;
  }

  @PostMapping(
      path = "/decode",
      consumes = MediaType.APPLICATION_JSON_VALUE,
      produces = MediaType.APPLICATION_JSON_VALUE)
  public Mono<ResponseEntity<byte[]>> decode(ServerHttpRequest request) {
    return convert(request, "decode", c -> c::decode);
  }

  @PostMapping(
      path = "/encode",
      consumes = MediaType.APPLICATION_JSON_VALUE,
      produces = MediaType.APPLICATION_JSON_VALUE)
  public Mono<ResponseEntity<byte[]>> encode(ServerHttpRequest request) {
    return convert(request, "encode", c -> c::encode);
  }

  private Mono<ResponseEntity<byte[]>> convert(
      ServerHttpRequest request,
      String what,
      java.util.function.Function<EncryptionCodec, UnaryOperator<List<Payload>>> operation) {
    EncryptionCodec encryption = codec.getIfAvailable();
    if (encryption == null) {
      return Mono.error(
          new ApiException(
              HttpStatus.NOT_FOUND,
              "ENCRYPTION_OFF",
              "Payload encryption is off (tempera.encryption.enabled): there is nothing to "
                  + what));
    }
    if (request.getHeaders().getContentLength() > MAX_BODY_BYTES) {
      return Mono.error(tooLarge());
    }
    return DataBufferUtils.join(request.getBody(), MAX_BODY_BYTES)
        .onErrorMap(DataBufferLimitException.class, e -> tooLarge())
        .map(buffer -> {
          try {
            return buffer.toString(StandardCharsets.UTF_8);
          } finally {
            DataBufferUtils.release(buffer);
          }
        })
        .defaultIfEmpty("")
        .map(body -> {
          Payloads.Builder payloads = Payloads.newBuilder();
          try {
            JsonFormat.parser().merge(body, payloads);
          } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw ApiException.badRequest(
                "INVALID_BODY",
                "Send Temporal's codec JSON: {\"payloads\": [{\"metadata\": {\"encoding\":"
                    + " \"<base64>\"}, \"data\": \"<base64>\"}]}");
          }
          List<Payload> converted;
          try {
            converted = operation.apply(encryption).apply(payloads.getPayloadsList());
          } catch (PayloadCodecException e) {
            log.warn("codec {} refused: {}", what, e.getMessage());
            throw new ApiException(
                HttpStatus.UNPROCESSABLE_CONTENT, "PAYLOAD_NOT_DECRYPTABLE", e.getMessage());
          }
          try {
            String json =
                JsonFormat.printer()
                    .omittingInsignificantWhitespace()
                    .print(Payloads.newBuilder().addAllPayloads(converted));
            return ResponseEntity.ok()
                .contentType(MediaType.APPLICATION_JSON)
                .body(json.getBytes(StandardCharsets.UTF_8));
          } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("payloads that cannot be written as JSON", e);
          }
        });
  }

  private static ApiException tooLarge() {
    return new ApiException(
        HttpStatus.CONTENT_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "The request body is over " + MAX_BODY_BYTES + " bytes");
  }
}
