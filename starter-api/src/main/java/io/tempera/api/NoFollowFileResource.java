package io.tempera.api;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.springframework.core.io.AbstractResource;

/**
 * A stored file served without following a symbolic link: opened with {@code NOFOLLOW_LINKS} each
 * time it is read (the elements above it were checked by {@link
 * io.tempera.outputs.OutputStore#regularFile}), so a file replaced by a link after that check is
 * not read through it. Not a "file" to Spring (no zero-copy path that would open it by name);
 * ranges still work, read from its stream.
 */
final class NoFollowFileResource extends AbstractResource {

  private final Path file;
  private final long length;

  NoFollowFileResource(Path file, long length) {
    this.file = file;
    this.length = length;
  }

  @Override
  public InputStream getInputStream() throws IOException {
    return Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public ReadableByteChannel readableChannel() throws IOException {
    return Channels.newChannel(getInputStream());
  }

  @Override
  public boolean exists() {
    return true;
  }

  @Override
  public long contentLength() {
    return length;
  }

  @Override
  public String getFilename() {
    return file.getFileName().toString();
  }

  @Override
  public String getDescription() {
    return "stored file " + file.getFileName();
  }
}
