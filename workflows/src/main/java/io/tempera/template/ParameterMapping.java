package io.tempera.template;

/**
 * Where a parameter goes in the backend graph.
 *
 * @param type direct (the value is written as is) or file_upload (the file is uploaded to the
 *     backend and the backend's name for it is written)
 * @param target {@code <node id>.inputs.<input name>}
 */
public record ParameterMapping(String parameter, String type, GraphTarget target) {

  public static final String DIRECT = "direct";
  public static final String FILE_UPLOAD = "file_upload";
}
