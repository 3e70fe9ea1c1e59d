package io.tempera.backend.comfyui;

/** The server's name for an uploaded image (it may rename on a clash). */
public record UploadedImage(String name, String subfolder, String type) {

  /** What LoadImage's {@code image} input takes. */
  public String loadImageValue() {
    return subfolder == null || subfolder.isEmpty() ? name : subfolder + "/" + name;
  }
}
