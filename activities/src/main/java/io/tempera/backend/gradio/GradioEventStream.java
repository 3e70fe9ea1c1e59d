package io.tempera.backend.gradio;

import io.tempera.backend.gradio.GradioException.Kind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A server-sent-event response read on its own virtual thread, so that the caller can wait with a
 * timeout (no event for streamIdleTimeout, or past the run's deadline) and be interrupted.
 */
final class GradioEventStream implements AutoCloseable {

  /**
   * One event: its {@code event:} name (null when it has none) and its {@code data:} lines joined.
   */
  record Event(String event, String data) {}

  private static final Object END = new Object();

  private final InputStream body;
  private final GradioClientOptions options;
  private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
  private final Thread reader;

  GradioEventStream(InputStream body, GradioClientOptions options) {
    this.body = body;
    this.options = options;
    this.reader = Thread.ofVirtual().name("gradio-sse").start(this::read);
  }

  private void read() {
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
      String eventName = null;
      StringBuilder data = null;
      String line;
      while ((line = lines.readLine()) != null) {
        if (line.isEmpty()) {
          if (data != null) {
            events.add(new Event(eventName, data.toString()));
          }
          eventName = null;
          data = null;
        } else if (line.startsWith("data:")) {
          String part = line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5);
          data = data == null ? new StringBuilder(part) : data.append('\n').append(part);
        } else if (line.startsWith("event:")) {
          eventName = line.substring(6).trim();
        }
      }
      if (data != null) {
        events.add(new Event(eventName, data.toString()));
      }
      events.add(END);
    } catch (IOException e) {
      events.add(e);
    }
  }

  /**
   * The next event.
   *
   * @param deadline {@link System#nanoTime()} by which the prediction must have finished
   * @throws GradioException TIMEOUT (idle or past the deadline), UNREACHABLE (the stream ended or
   *     broke), ABORTED (the calling thread was interrupted)
   */
  Event next(long deadline) {
    long idle = options.streamIdleTimeout().toNanos();
    Object item;
    try {
      item =
          events.poll(
              Math.min(idle, Math.max(0, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new GradioException(
          Kind.ABORTED, "interrupted while following the prediction", null, e);
    }
    if (item == null) {
      if (System.nanoTime() >= deadline) {
        throw new GradioException(
            Kind.TIMEOUT, "the prediction did not finish within " + describe(options.runTimeout()));
      }
      // Gradio sends a heartbeat every 15 s: a stream this silent is a server gone or wedged
      throw new GradioException(
          Kind.UNREACHABLE,
          "the event stream sent nothing (not even a heartbeat) for "
              + describe(options.streamIdleTimeout()));
    }
    if (item == END) {
      throw new GradioException(
          Kind.UNREACHABLE, "the event stream ended before the prediction finished");
    }
    if (item instanceof IOException e) {
      throw new GradioException(
          Kind.UNREACHABLE, "the event stream broke: the connection to the app was lost", null, e);
    }
    return (Event) item;
  }

  /** "45 s", "5 minutes", "700 ms". */
  private static String describe(java.time.Duration d) {
    return d.toMillis() % 1000 != 0
        ? d.toMillis() + " ms"
        : io.tempera.generation.GenerationFailures.describe(d);
  }

  @Override
  public void close() {
    reader.interrupt();
    Thread.ofVirtual()
        .start(() -> {
          try {
            body.close();
          } catch (IOException ignored) {
            // closing a broken stream
          }
        });
  }
}
