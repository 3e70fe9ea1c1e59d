package io.tempera.template;

import java.util.Map;

/**
 * Where a value goes in the backend graph.
 *
 * @param parameter the parameter it maps (null for computed and model_file)
 * @param type direct (the value as is), file_upload (the file is uploaded to the backend and the
 *     backend's name for it is written), lookup (the value's entry in {@code table}), computed
 *     ({@code expression} evaluated over the parameters and {@code tier}) or model_file (the file
 *     of kind {@code modelFile} of the model the tier runs on, from the model registry)
 * @param target {@code <node id>.inputs.<input name>}
 * @param when when set, the mapping applies only where this expression is true
 * @param modelFile model_file: the kind of file (the model folder, e.g. checkpoints) whose name is
 *     written
 */
public record ParameterMapping(
    String parameter,
    String type,
    GraphTarget target,
    Map<String, Object> table,
    Expression expression,
    Expression when,
    String modelFile) {

  public static final String DIRECT = "direct";
  public static final String FILE_UPLOAD = "file_upload";
  public static final String LOOKUP = "lookup";
  public static final String COMPUTED = "computed";
  public static final String MODEL_FILE = "model_file";

  public ParameterMapping(String parameter, String type, GraphTarget target) {
    this(parameter, type, target, null, null, null, null);
  }

  public ParameterMapping(
      String parameter,
      String type,
      GraphTarget target,
      Map<String, Object> table,
      Expression expression,
      Expression when) {
    this(parameter, type, target, table, expression, when, null);
  }
}
