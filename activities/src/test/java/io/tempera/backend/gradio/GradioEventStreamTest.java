package io.tempera.backend.gradio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Reading server-sent events: names, data lines, the end of the stream, and silence. */
class GradioEventStreamTest {

  static GradioClientOptions options(Duration idle) {
    return new GradioClientOptions(
        Duration.ofSeconds(1), Duration.ofSeconds(1), idle, Duration.ofMinutes(5), null, null);
  }

  static long later() {
    return System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
  }

  static InputStream text(String s) {
    return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void eventsWithNamesAndDataLinesThenTheEnd() {
    String sse =
        "event: generating\ndata: [1]\n\n: a comment\ndata:{\"a\":\ndata: 2}\n\nevent: complete\ndata: [\"done\"]";
    try (GradioEventStream stream =
        new GradioEventStream(text(sse), options(Duration.ofSeconds(30)))) {
      assertThat(stream.next(later())).isEqualTo(new GradioEventStream.Event("generating", "[1]"));
      assertThat(stream.next(later())).isEqualTo(new GradioEventStream.Event(null, "{\"a\":\n2}"));
      assertThat(stream.next(later()))
          .as("the last event, without its blank line")
          .isEqualTo(new GradioEventStream.Event("complete", "[\"done\"]"));
      assertThatThrownBy(() -> stream.next(later()))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
                assertThat(e.getMessage())
                    .isEqualTo("the event stream ended before the prediction finished");
              });
    }
  }

  @Test
  void aBrokenStreamIsUnreachable() {
    InputStream broken =
        new InputStream() {
          @Override
          public int read() throws IOException {
            throw new IOException("connection reset");
          }

          @Override
          public int read(byte[] buffer, int offset, int length) throws IOException {
            throw new IOException("connection reset");
          }
        };
    try (GradioEventStream stream =
        new GradioEventStream(broken, options(Duration.ofSeconds(30)))) {
      assertThatThrownBy(() -> stream.next(later()))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
                assertThat(e.getMessage())
                    .isEqualTo("the event stream broke: the connection to the app was lost");
              });
    }
  }

  @Test
  void silenceIsAServerGoneAndThePassedDeadlineATimeout() throws IOException {
    try (PipedOutputStream never = new PipedOutputStream();
        GradioEventStream stream =
            new GradioEventStream(new PipedInputStream(never), options(Duration.ofMillis(50)))) {
      assertThatThrownBy(() -> stream.next(later()))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                // Gradio heartbeats every 15 s: a silent stream is an app gone or wedged
                assertThat(e.kind()).isEqualTo(GradioException.Kind.UNREACHABLE);
                assertThat(e.getMessage())
                    .isEqualTo("the event stream sent nothing (not even a heartbeat) for 50 ms");
              });
      assertThatThrownBy(() -> stream.next(System.nanoTime()))
          .isInstanceOfSatisfying(
              GradioException.class,
              e -> {
                assertThat(e.kind()).isEqualTo(GradioException.Kind.TIMEOUT);
                assertThat(e.getMessage())
                    .isEqualTo("the prediction did not finish within 5 minutes");
              });
    }
  }

  @Test
  void anInterruptedWaitIsAborted() throws IOException {
    try (PipedOutputStream never = new PipedOutputStream();
        GradioEventStream stream =
            new GradioEventStream(new PipedInputStream(never), options(Duration.ofSeconds(30)))) {
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(() -> stream.next(later()))
            .isInstanceOfSatisfying(
                GradioException.class,
                e -> assertThat(e.kind()).isEqualTo(GradioException.Kind.ABORTED));
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
    }
  }
}
