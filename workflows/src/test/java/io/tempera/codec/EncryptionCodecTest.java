package io.tempera.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.DataConverter;
import io.temporal.payload.codec.PayloadCodecException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** AES-256-GCM payload encryption: round trips, key rotation, tampering, unknown keys. */
class EncryptionCodecTest {

  static byte[] key(int seed) {
    byte[] key = new byte[32];
    new Random(seed).nextBytes(key);
    return key;
  }

  static String base64(byte[] key) {
    return Base64.getEncoder().encodeToString(key);
  }

  static Payload payload(String encoding, byte[] data) {
    return Payload.newBuilder()
        .putMetadata("encoding", ByteString.copyFromUtf8(encoding))
        .setData(ByteString.copyFrom(data))
        .build();
  }

  final EncryptionCodec codec = EncryptionCodec.of("k1", Map.of("k1", key(1)));

  @Test
  void payloadsOfEveryKindRoundTripAndAreEncrypted() {
    byte[] large = new byte[1024 * 1024];
    new Random(7).nextBytes(large);
    Payload json =
        payload(
            "json/plain",
            "{\"prompt\":\"a lighthouse in a storm\"}".getBytes(StandardCharsets.UTF_8));
    Payload binary = payload("binary/plain", new byte[] {0, 1, 2, (byte) 255});
    Payload empty = payload("binary/null", new byte[0]);
    Payload noMetadata = Payload.getDefaultInstance();
    Payload big =
        payload("binary/plain", large).toBuilder()
            .putMetadata("messageType", ByteString.copyFromUtf8("x"))
            .build();
    List<Payload> originals = List.of(json, binary, empty, noMetadata, big);

    List<Payload> encoded = codec.encode(originals);

    assertThat(encoded).hasSize(originals.size());
    for (int i = 0; i < encoded.size(); i++) {
      Payload e = encoded.get(i);
      assertThat(e.getMetadataMap())
          .containsOnlyKeys("encoding", "encryption-key-id")
          .containsEntry("encoding", ByteString.copyFromUtf8("binary/encrypted"))
          .containsEntry("encryption-key-id", ByteString.copyFromUtf8("k1"));
      // nonce + (payload bytes) + 16-byte tag
      assertThat(e.getData().size()).isEqualTo(12 + originals.get(i).getSerializedSize() + 16);
    }
    assertThat(encoded.get(0).getData().toStringUtf8()).doesNotContain("lighthouse");
    assertThat(codec.decode(encoded)).isEqualTo(originals);
  }

  @Test
  void theSamePayloadEncryptsDifferentlyEachTime() {
    Payload p = payload("json/plain", "\"same\"".getBytes(StandardCharsets.UTF_8));
    Payload a = codec.encode(List.of(p)).get(0);
    Payload b = codec.encode(List.of(p)).get(0);
    assertThat(a.getData()).isNotEqualTo(b.getData());
    assertThat(a.getData().substring(0, 12)).isNotEqualTo(b.getData().substring(0, 12));
  }

  @Test
  void afterRotationTheNewKeyEncryptsAndTheOldStillDecrypts() {
    Payload p = payload("json/plain", "\"before rotation\"".getBytes(StandardCharsets.UTF_8));
    Payload old = codec.encode(List.of(p)).get(0);

    EncryptionCodec rotated =
        EncryptionCodec.ofBase64("k2", Map.of("k1", base64(key(1)), "k2", base64(key(2))));

    assertThat(rotated.decode(List.of(old))).containsExactly(p);
    Payload fresh = rotated.encode(List.of(p)).get(0);
    assertThat(fresh.getMetadataMap().get("encryption-key-id").toStringUtf8()).isEqualTo("k2");
    assertThat(rotated.decode(List.of(fresh))).containsExactly(p);
    assertThat(rotated.currentKeyId()).isEqualTo("k2");
    assertThat(rotated.keyIds()).containsExactly("k1", "k2");
  }

  @Test
  void aChangedByteFailsAuthentication() {
    Payload p = payload("json/plain", "\"do not touch\"".getBytes(StandardCharsets.UTF_8));
    Payload e = codec.encode(List.of(p)).get(0);
    byte[] data = e.getData().toByteArray();
    for (int position : new int[] {0, 12, data.length / 2, data.length - 1}) {
      byte[] changed = data.clone();
      changed[position] ^= 1;
      Payload tampered = e.toBuilder().setData(ByteString.copyFrom(changed)).build();
      assertThatThrownBy(() -> codec.decode(List.of(tampered)))
          .as("byte %d flipped", position)
          .isInstanceOf(PayloadCodecException.class)
          .hasMessageContaining("key id 'k1'")
          .hasMessageContaining("fails authentication");
    }
    Payload cut = e.toBuilder().setData(e.getData().substring(0, 20)).build();
    assertThatThrownBy(() -> codec.decode(List.of(cut)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("too short");
  }

  @Test
  void anotherKeyUnderTheSameIdFailsAuthentication() {
    Payload e =
        codec.encode(List.of(payload("json/plain", "1".getBytes(StandardCharsets.UTF_8)))).get(0);
    EncryptionCodec other = EncryptionCodec.of("k1", Map.of("k1", key(99)));
    assertThatThrownBy(() -> other.decode(List.of(e)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("fails authentication");
  }

  @Test
  void anUnknownKeyIdIsNamedAndNoKeyIsShown() {
    Payload e =
        codec.encode(List.of(payload("json/plain", "1".getBytes(StandardCharsets.UTF_8)))).get(0);
    EncryptionCodec rotatedWithoutK1 = EncryptionCodec.of("k2", Map.of("k2", key(2)));
    assertThatThrownBy(() -> rotatedWithoutK1.decode(List.of(e)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("key id 'k1'")
        .hasMessageContaining("[k2]")
        .message()
        .doesNotContain(base64(key(2)))
        .doesNotContain(base64(key(1)));
    Payload noId = e.toBuilder().removeMetadata("encryption-key-id").build();
    assertThatThrownBy(() -> codec.decode(List.of(noId)))
        .isInstanceOf(PayloadCodecException.class)
        .hasMessageContaining("names no key");
  }

  @Test
  void payloadsThatAreNotEncryptedPassDecodingUnchanged() {
    Payload plain = payload("json/plain", "\"old history\"".getBytes(StandardCharsets.UTF_8));
    Payload none = Payload.getDefaultInstance();
    assertThat(codec.decode(List.of(plain, none))).containsExactly(plain, none);
  }

  @Test
  void theDataConverterEncryptsWhatItConverts() {
    DataConverter converter = codec.dataConverter();
    var payloads = converter.toPayloads("a very secret prompt").orElseThrow();
    assertThat(payloads.getPayloads(0).getMetadataMap().get("encoding").toStringUtf8())
        .isEqualTo("binary/encrypted");
    assertThat(new String(payloads.toByteArray(), StandardCharsets.ISO_8859_1))
        .doesNotContain("secret");
    assertThat(
            converter.fromPayloads(0, java.util.Optional.of(payloads), String.class, String.class))
        .isEqualTo("a very secret prompt");
  }

  @Test
  void malformedKeysFailWithTheirIdAndNeverTheKey() {
    String short16 = base64(Arrays.copyOf(key(3), 16));
    assertThatThrownBy(() -> EncryptionCodec.ofBase64("k1", Map.of("k1", short16)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'k1' is 16 bytes")
        .hasMessageContaining("32 bytes")
        .message()
        .doesNotContain(short16);
    assertThatThrownBy(() -> EncryptionCodec.ofBase64("k1", Map.of("k1", "not base64 !!")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'k1' is not base64")
        .message()
        .doesNotContain("not base64 !!");
    assertThatThrownBy(() -> EncryptionCodec.ofBase64("k3", Map.of("k1", base64(key(1)))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'k3' names no configured key (configured: [k1])");
    assertThatThrownBy(() -> EncryptionCodec.ofBase64(null, Map.of("k1", base64(key(1)))))
        .hasMessageContaining("tempera.encryption.current-key-id");
    assertThatThrownBy(() -> EncryptionCodec.ofBase64("k1", Map.of()))
        .hasMessageContaining("no key is configured");
    assertThatThrownBy(() -> EncryptionCodec.ofBase64("a.b", Map.of("a.b", base64(key(1)))))
        .hasMessageContaining("letters, digits and dashes");
    // ids are taken in lower case, as an environment variable's name gives them
    assertThat(EncryptionCodec.ofBase64("K1", Map.of("k1", base64(key(1)))).currentKeyId())
        .isEqualTo("k1");
    assertThat(codec.toString()).isEqualTo("EncryptionCodec[current=k1, keys=[k1]]");
  }
}
