package io.tempera.template;

/** Why a template file was skipped: which file, where in it, and what is wrong. */
public record TemplateProblem(String file, String path, String reason) {

  @Override
  public String toString() {
    return file + " at " + path + ": " + reason;
  }
}
