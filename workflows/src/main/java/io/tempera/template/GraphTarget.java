package io.tempera.template;

/** A node input in a backend graph, written {@code <node id>.inputs.<input name>}. */
public record GraphTarget(String node, String input) {

  /** Parses {@code 3.inputs.scale_by}; null when malformed. */
  public static GraphTarget parse(String text) {
    if (text == null) {
      return null;
    }
    int marker = text.indexOf(".inputs.");
    if (marker <= 0 || marker + 8 >= text.length()) {
      return null;
    }
    return new GraphTarget(text.substring(0, marker), text.substring(marker + 8));
  }

  @Override
  public String toString() {
    return node + ".inputs." + input;
  }
}
