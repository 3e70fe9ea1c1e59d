package io.tempera.template;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One thing wrong with a request: which field, a stable code, and a sentence for a person.
 *
 * @param field the JSON path of the request body's field, as the caller sent it (e.g. {@code
 *     functionId}, {@code parameters.strength}, {@code sweep.seed}); never a Java name
 * @param parameter the bare name of the function parameter the problem is about (e.g. {@code
 *     strength}), for the problems of a parameter; null (left out of the JSON) otherwise
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RequestProblem(String field, String code, String message, String parameter) {

  /** A field of {@code parameters} or of {@code sweep} (a batch's). */
  private static final Pattern PARAMETER_FIELD =
      Pattern.compile("^(?:parameters|sweep)\\.([^.\\[]+)$");

  /** A problem whose parameter, if any, is read from {@code field}. */
  public RequestProblem(String field, String code, String message) {
    this(field, code, message, parameterOf(field));
  }

  /** The parameter a field names ({@code parameters.x}, {@code sweep.x}), or null. */
  public static String parameterOf(String field) {
    if (field == null) {
      return null;
    }
    Matcher m = PARAMETER_FIELD.matcher(field);
    return m.matches() ? m.group(1) : null;
  }
}
