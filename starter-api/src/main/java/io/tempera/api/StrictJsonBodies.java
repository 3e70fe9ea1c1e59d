package io.tempera.api;

import io.tempera.template.RequestProblem;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.databind.type.LogicalType;

/**
 * The HTTP codecs' JSON (Jackson 3) as strict as {@link StrictJson}, for any request body a route
 * binds to a class: an unknown field fails, a number or boolean is not turned into a string, a key
 * given twice and text after the value fail. {@code POST /api/generations} reads its body with
 * {@link StrictJson} itself (every problem at once); this covers any other body.
 */
@Configuration(proxyBeanMethods = false)
public class StrictJsonBodies {

  @Bean
  public JsonMapperBuilderCustomizer strictRequestBodies() {
    return builder ->
        builder
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .withCoercionConfig(
                LogicalType.Textual,
                config ->
                    config
                        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                        .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail));
  }

  /**
   * The field a bound body got wrong, from the codec's failure (anywhere in its causes), or null
   * when the failure names none.
   */
  static RequestProblem problemOf(Throwable failure) {
    for (Throwable t = failure; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof UnrecognizedPropertyException unknown) {
        String field = path(unknown);
        return new RequestProblem(
            field, "UNKNOWN_FIELD", "'" + field + "' is not a field of this request");
      }
      if (t instanceof MismatchedInputException mismatch && !mismatch.getPath().isEmpty()) {
        String field = path(mismatch);
        return new RequestProblem(
            field, "INVALID_FIELD", field + " has the wrong JSON type (values are not coerced)");
      }
    }
    return null;
  }

  private static String path(JacksonException e) {
    StringBuilder path = new StringBuilder();
    for (JacksonException.Reference ref : e.getPath()) {
      if (ref.getPropertyName() != null) {
        if (!path.isEmpty()) {
          path.append('.');
        }
        String name = ref.getPropertyName();
        path.append(name.length() > 64 ? name.substring(0, 64) + "…" : name);
      } else if (ref.getIndex() >= 0) {
        path.append('[').append(ref.getIndex()).append(']');
      }
    }
    return path.toString().replaceAll("\\p{Cntrl}", "?");
  }
}
