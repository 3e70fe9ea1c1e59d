package io.tempera.generation;

import java.util.List;

/**
 * The detail a failed backend run carries: the files it produced before it failed, so they can be
 * kept and shown with the failure.
 */
public record PartialFiles(List<BackendFile> files) {

  public PartialFiles {
    files = files == null ? List.of() : List.copyOf(files);
  }
}
