package io.tempera.backend.comfyui;

/** Where a prompt is in /queue: running, pending at a position (1 = next), or not there. */
public record QueueStatus(boolean running, boolean pending, int position) {

  public static final QueueStatus ABSENT = new QueueStatus(false, false, -1);

  public boolean known() {
    return running || pending;
  }
}
