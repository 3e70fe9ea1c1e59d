package io.tempera.slots;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.temporal.common.converter.JacksonJsonPayloadConverter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The wait line as the allocator hands it to its next run: its waiters' JSON, gzipped. A line of
 * 10,000 waiters is about 2 MB of JSON, the real Temporal server's limit for one payload (the
 * continue-as-new's input would be refused and the pool's allocator stall); packed it is a few
 * hundred kB. The same bytes for the same line (pure code, no clock or randomness): safe in
 * workflow code.
 */
final class PackedLine {

  private static final ObjectMapper JSON =
      JacksonJsonPayloadConverter.newDefaultObjectMapper()
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private PackedLine() {}

  static byte[] pack(List<Waiter> waiters) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
      JSON.writeValue(gzip, waiters);
    } catch (IOException e) {
      throw new UncheckedIOException("the wait line could not be packed", e);
    }
    return bytes.toByteArray();
  }

  static List<Waiter> unpack(byte[] packed) {
    try (GZIPInputStream gzip = new GZIPInputStream(new ByteArrayInputStream(packed))) {
      return JSON.readValue(gzip, new TypeReference<List<Waiter>>() {});
    } catch (IOException e) {
      throw new UncheckedIOException("the packed wait line could not be read", e);
    }
  }
}
