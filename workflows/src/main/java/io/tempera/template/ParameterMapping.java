package io.tempera.template;

import java.util.Map;

/**
 * Where a value goes in the backend graph.
 *
 * @param parameter the parameter it maps (null for computed)
 * @param type direct (the value as is), file_upload (the file is uploaded to the backend and the
 *     backend's name for it is written), lookup (the value's entry in {@code table}) or computed
 *     ({@code expression} evaluated over the parameters and {@code tier})
 * @param target {@code <node id>.inputs.<input name>}
 * @param when when set, the mapping applies only where this expression is true
 */
public record ParameterMapping(
    String parameter,
    String type,
    GraphTarget target,
    Map<String, Object> table,
    Expression expression,
    Expression when) {

  public static final String DIRECT = "direct";
  public static final String FILE_UPLOAD = "file_upload";
  public static final String LOOKUP = "lookup";
  public static final String COMPUTED = "computed";

  public ParameterMapping(String parameter, String type, GraphTarget target) {
    this(parameter, type, target, null, null, null);
  }
}
