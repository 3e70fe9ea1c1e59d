package io.tempera.backend.gradio;

/**
 * A file in a Gradio reply (FileData): {@code path} on the server, {@code url} where it is served
 * ({@code <root>{prefix}/file=<path>}), and what the server says about it (size and mime type may
 * be null).
 */
public record GradioFile(String path, String url, String origName, String mimeType, Long size) {

  /** The name to store it under: the original name, else the path's last part. */
  public String name() {
    if (origName != null && !origName.isBlank()) {
      return origName;
    }
    String p = path == null ? url : path;
    return p == null ? "output" : p.substring(p.lastIndexOf('/') + 1);
  }
}
