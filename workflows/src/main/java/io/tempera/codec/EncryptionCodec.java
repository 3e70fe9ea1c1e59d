package io.tempera.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.temporal.api.common.v1.Payload;
import io.temporal.common.converter.CodecDataConverter;
import io.temporal.common.converter.DataConverter;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts every payload Temporal stores (workflow and activity inputs and results, signals,
 * queries, heartbeat details, memos), so that the Temporal server and whoever operates it see no
 * prompt and no user file: AES-256-GCM, a random 12-byte nonce per payload.
 *
 * <p>An encrypted payload has the metadata {@code encoding: binary/encrypted} and {@code
 * encryption-key-id: <id>}; its data is the nonce followed by the ciphertext and its 16-byte tag,
 * the plaintext being the original payload (metadata and data) as protobuf bytes. Several keys may
 * be known: the current one encrypts, each decrypts what was encrypted with it (key rotation). A
 * payload that is not encrypted passes decoding unchanged, so histories written before encryption
 * was turned on still replay. No message ever contains a key, only its id.
 */
public final class EncryptionCodec implements PayloadCodec {

  /** The {@code encoding} of an encrypted payload. */
  public static final String ENCODING = "binary/encrypted";

  /** The metadata naming the key that encrypted a payload. */
  public static final String KEY_ID = "encryption-key-id";

  static final String METADATA_ENCODING = "encoding";
  static final int NONCE_BYTES = 12;
  static final int TAG_BITS = 128;
  static final int KEY_BYTES = 32;

  /** Key ids: lower-case letters and digits (and dashes), so they survive an environment name. */
  static final Pattern KEY_ID_FORMAT = Pattern.compile("[a-z0-9][a-z0-9-]{0,63}");

  private static final ByteString ENCODING_BYTES = ByteString.copyFromUtf8(ENCODING);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final String currentKeyId;
  private final ByteString currentKeyIdBytes;
  private final SecretKey currentKey;
  private final Map<String, SecretKey> keys;

  private EncryptionCodec(String currentKeyId, Map<String, SecretKey> keys) {
    this.currentKeyId = currentKeyId;
    this.currentKeyIdBytes = ByteString.copyFromUtf8(currentKeyId);
    this.currentKey = keys.get(currentKeyId);
    this.keys = Map.copyOf(keys);
  }

  /**
   * The codec for these keys ({@code id → 32 bytes}); {@code currentKeyId} names the one that
   * encrypts. Ids are taken in lower case.
   *
   * @throws IllegalArgumentException naming the id (never the key) when a key is not 32 bytes, an
   *     id is malformed, or the current id names no key
   */
  public static EncryptionCodec of(String currentKeyId, Map<String, byte[]> keys) {
    if (keys == null || keys.isEmpty()) {
      throw new IllegalArgumentException(
          "Payload encryption is on but no key is configured: set tempera.encryption.keys.<id>"
              + " (TEMPERA_ENCRYPTION_KEYS_<ID>) to 32 random bytes in base64");
    }
    Map<String, SecretKey> secretKeys = new TreeMap<>();
    for (Map.Entry<String, byte[]> entry : keys.entrySet()) {
      String id = keyId(entry.getKey());
      byte[] key = entry.getValue();
      if (key == null || key.length != KEY_BYTES) {
        throw new IllegalArgumentException(
            "The encryption key '"
                + id
                + "' is "
                + (key == null ? 0 : key.length)
                + " bytes; an AES-256 key is 32 bytes (make one with: openssl rand -base64 32)");
      }
      if (secretKeys.put(id, new SecretKeySpec(key.clone(), "AES")) != null) {
        throw new IllegalArgumentException("The encryption key id '" + id + "' is given twice");
      }
    }
    if (currentKeyId == null || currentKeyId.isBlank()) {
      throw new IllegalArgumentException(
          "Payload encryption is on but no current key is named: set"
              + " tempera.encryption.current-key-id (TEMPERA_ENCRYPTION_CURRENT_KEY_ID) to one of "
              + secretKeys.keySet());
    }
    String current = keyId(currentKeyId);
    if (!secretKeys.containsKey(current)) {
      throw new IllegalArgumentException(
          "The current encryption key id '"
              + current
              + "' names no configured key (configured: "
              + secretKeys.keySet()
              + ")");
    }
    return new EncryptionCodec(current, secretKeys);
  }

  /**
   * The codec for keys given in base64 ({@code id → base64 of 32 bytes}), as configuration holds
   * them.
   *
   * @throws IllegalArgumentException naming the id (never the key) when a key is no base64 or not
   *     32 bytes
   */
  public static EncryptionCodec ofBase64(String currentKeyId, Map<String, String> base64Keys) {
    Map<String, byte[]> keys = new TreeMap<>();
    if (base64Keys != null) {
      for (Map.Entry<String, String> entry : base64Keys.entrySet()) {
        String id = keyId(entry.getKey());
        String text = entry.getValue() == null ? "" : entry.getValue().strip();
        byte[] key;
        try {
          key = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException notBase64) {
          throw new IllegalArgumentException(
              "The encryption key '"
                  + id
                  + "' is not base64; an AES-256 key is 32 random bytes in base64 (make one with:"
                  + " openssl rand -base64 32)");
        }
        if (keys.put(id, key) != null) {
          throw new IllegalArgumentException("The encryption key id '" + id + "' is given twice");
        }
      }
    }
    return of(currentKeyId, keys);
  }

  private static String keyId(String given) {
    String id = given == null ? "" : given.strip().toLowerCase(Locale.ROOT);
    if (!KEY_ID_FORMAT.matcher(id).matches()) {
      throw new IllegalArgumentException(
          "The encryption key id '"
              + printable(id)
              + "' is not one: key ids are letters, digits and dashes (at most 64)");
    }
    return id;
  }

  /** The id of the key that encrypts. */
  public String currentKeyId() {
    return currentKeyId;
  }

  /** The ids of the keys that decrypt, sorted. */
  public List<String> keyIds() {
    return List.copyOf(new TreeMap<>(keys).keySet());
  }

  /**
   * The data converter Temporal's clients and workers use with this codec: {@link
   * TemperaDataConverter}'s converters, every payload then encrypted, failures' messages and stack
   * traces included (they may name a user's file); a failure's type (the error code) stays
   * readable.
   */
  public DataConverter dataConverter() {
    return new CodecDataConverter(TemperaDataConverter.standard(), List.of(this), true);
  }

  @Override
  public List<Payload> encode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload payload : payloads) {
      out.add(encrypt(payload));
    }
    return out;
  }

  @Override
  public List<Payload> decode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload payload : payloads) {
      out.add(decrypt(payload));
    }
    return out;
  }

  /** True when {@code payload} was encrypted by a codec of this kind. */
  public static boolean isEncrypted(Payload payload) {
    return ENCODING_BYTES.equals(payload.getMetadataMap().get(METADATA_ENCODING));
  }

  private Payload encrypt(Payload payload) {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    byte[] plaintext = payload.toByteArray();
    byte[] sealed;
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, currentKey, new GCMParameterSpec(TAG_BITS, nonce));
      sealed = new byte[NONCE_BYTES + cipher.getOutputSize(plaintext.length)];
      System.arraycopy(nonce, 0, sealed, 0, NONCE_BYTES);
      cipher.doFinal(plaintext, 0, plaintext.length, sealed, NONCE_BYTES);
    } catch (GeneralSecurityException e) {
      throw new PayloadCodecException(
          "Encrypting a payload with key id '" + currentKeyId + "' failed: " + e.getMessage(), e);
    }
    return Payload.newBuilder()
        .putMetadata(METADATA_ENCODING, ENCODING_BYTES)
        .putMetadata(KEY_ID, currentKeyIdBytes)
        .setData(ByteString.copyFrom(sealed))
        .build();
  }

  private Payload decrypt(Payload payload) {
    if (!isEncrypted(payload)) {
      return payload; // written before encryption was turned on, or never encoded
    }
    ByteString idBytes = payload.getMetadataMap().get(KEY_ID);
    if (idBytes == null) {
      throw new PayloadCodecException(
          "An encrypted payload names no key (no '" + KEY_ID + "' metadata); it cannot be read");
    }
    String id = idBytes.toString(StandardCharsets.UTF_8);
    SecretKey key = keys.get(id);
    if (key == null) {
      throw new PayloadCodecException(
          "A payload is encrypted with key id '"
              + printable(id)
              + "', which this process does not have (its keys: "
              + keyIds()
              + "); add that key to tempera.encryption.keys to read it");
    }
    byte[] sealed = payload.getData().toByteArray();
    if (sealed.length < NONCE_BYTES + TAG_BITS / 8) {
      throw new PayloadCodecException(
          "A payload encrypted with key id '" + id + "' is too short to be one; it was cut");
    }
    byte[] plaintext;
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, sealed, 0, NONCE_BYTES));
      plaintext = cipher.doFinal(sealed, NONCE_BYTES, sealed.length - NONCE_BYTES);
    } catch (AEADBadTagException e) {
      throw new PayloadCodecException(
          "A payload encrypted with key id '"
              + id
              + "' fails authentication: it was changed, or encrypted with another key of that id");
    } catch (GeneralSecurityException e) {
      throw new PayloadCodecException(
          "Decrypting a payload with key id '" + id + "' failed: " + e.getMessage(), e);
    }
    try {
      return Payload.parseFrom(plaintext);
    } catch (InvalidProtocolBufferException e) {
      throw new PayloadCodecException(
          "A payload decrypted with key id '" + id + "' holds no payload", e);
    }
  }

  /** An id as shown in a message: control characters replaced, at most 64 characters. */
  private static String printable(String id) {
    String shown = id.replaceAll("\\p{Cntrl}", "?");
    return shown.length() > 64 ? shown.substring(0, 64) + "…" : shown;
  }

  @Override
  public String toString() {
    return "EncryptionCodec[current=" + currentKeyId + ", keys=" + keyIds() + "]";
  }
}
