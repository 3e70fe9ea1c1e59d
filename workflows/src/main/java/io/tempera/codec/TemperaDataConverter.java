package io.tempera.codec;

import com.fasterxml.jackson.databind.DeserializationFeature;
import io.temporal.common.converter.DataConverter;
import io.temporal.common.converter.DefaultDataConverter;
import io.temporal.common.converter.JacksonJsonPayloadConverter;

/**
 * The data converter of Tempera's clients and workers: the SDK's default, except that JSON payloads
 * with properties a record does not know are read, the unknown ones left out. During a rolling
 * upgrade a newer API or worker sends records with fields an older worker does not know yet (a new
 * optional request field): the SDK's own converter fails such a task until every process is
 * upgraded, this one reads it as the older version understood it. What it writes is the SDK's JSON,
 * byte for byte.
 */
public final class TemperaDataConverter {

  private static final DataConverter INSTANCE =
      DefaultDataConverter.newDefaultInstance()
          .withPayloadConverterOverrides(
              new JacksonJsonPayloadConverter(
                  JacksonJsonPayloadConverter.newDefaultObjectMapper()
                      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)));

  private TemperaDataConverter() {}

  /** The converter (one shared instance: it holds no state). */
  public static DataConverter standard() {
    return INSTANCE;
  }
}
