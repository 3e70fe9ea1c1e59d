package io.tempera.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.tempera.generation.GenerationRequest;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.DataConverterException;
import io.temporal.common.converter.DefaultDataConverter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A rolling upgrade: a newer API starts a generation whose request has a field this worker's record
 * does not know. The SDK's converter refuses the payload (the workflow task fails until every
 * process is upgraded); Tempera's reads it without the unknown field. What it writes is the SDK's
 * JSON, the same bytes.
 */
class TemperaDataConverterTest {

  private static Payload json(String text) {
    return Payload.newBuilder()
        .putMetadata("encoding", ByteString.copyFromUtf8("json/plain"))
        .setData(ByteString.copyFrom(text, StandardCharsets.UTF_8))
        .build();
  }

  private static final String FROM_A_NEWER_VERSION =
      """
      {"functionId":"upscale","tier":"high","parameters":{"image":"uploads/a.png","scale":2},
       "projectId":"demo","nodeId":"n1","requestId":"r1","functionVersion":"1.0.0",
       "priority":3,"fairShareWeight":1,"webhook":null,
       "aFieldAddedLater":{"anything":[1,2,3]}}
      """;

  @Test
  void aRequestWithAFieldFromANewerVersionIsReadWithoutIt() {
    GenerationRequest read =
        TemperaDataConverter.standard()
            .fromPayload(
                json(FROM_A_NEWER_VERSION), GenerationRequest.class, GenerationRequest.class);
    assertThat(read.functionId()).isEqualTo("upscale");
    assertThat(read.tier()).isEqualTo("high");
    assertThat(read.parameters()).containsEntry("scale", 2).containsEntry("image", "uploads/a.png");
    assertThat(read.priority()).isEqualTo(3);
    assertThat(read.requestId()).isEqualTo("r1");
  }

  @Test
  void theSdksOwnConverterRefusesIt() {
    assertThatThrownBy(() ->
            DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
                json(FROM_A_NEWER_VERSION), GenerationRequest.class, GenerationRequest.class))
        .isInstanceOf(DataConverterException.class)
        .hasStackTraceContaining("aFieldAddedLater");
  }

  @Test
  void itWritesWhatTheSdkWrites() {
    GenerationRequest request =
        new GenerationRequest(
            "upscale", "high", Map.of("image", "uploads/a.png"), "demo", "n1", "r1");
    Optional<Payload> ours = TemperaDataConverter.standard().toPayload(request);
    Optional<Payload> sdks = DefaultDataConverter.STANDARD_INSTANCE.toPayload(request);
    assertThat(ours).isPresent();
    assertThat(ours.get().getData()).isEqualTo(sdks.orElseThrow().getData());
    assertThat(ours.get().getMetadataMap()).isEqualTo(sdks.get().getMetadataMap());
  }

  @Test
  void encryptionWrapsTheSameTolerantConverter() {
    EncryptionCodec codec =
        EncryptionCodec.ofBase64(
            "k1", Map.of("k1", java.util.Base64.getEncoder().encodeToString(new byte[32])));
    var converter = codec.dataConverter();
    Payload encrypted = codec.encode(java.util.List.of(json(FROM_A_NEWER_VERSION))).get(0);
    GenerationRequest read =
        converter.fromPayload(encrypted, GenerationRequest.class, GenerationRequest.class);
    assertThat(read.functionId()).isEqualTo("upscale");
  }
}
