package io.tempera.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tempera.backend.comfyui.ComfyUiException;
import io.tempera.backend.gradio.GradioException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared backend HTTP layer: encoding, typed errors of malformed replies and transport
 * failures, saving streams.
 */
class BackendHttpTest {

  /** A backend's exception as the layer builds it, kinds named after the faults. */
  static final class TestException extends BackendException {
    TestException(BackendFault fault, String message, Integer status, Throwable cause) {
      super(fault, message, status, cause);
    }
  }

  final HttpClient http = HttpClient.newHttpClient();
  final BackendHttp<TestException> calls =
      new BackendHttp<>(
          http, URI.create("http://127.0.0.1:1"), Duration.ofSeconds(3), TestException::new);

  @AfterEach
  void tearDown() {
    http.close();
  }

  @Test
  void encodesQueriesPathsAndAbbreviates() {
    assertThat(BackendHttp.query("filename", "a b&c.png", "subfolder", "", "type", "output"))
        .isEqualTo("filename=a+b%26c.png&subfolder=&type=output");
    assertThat(BackendHttp.encodePath("/tmp/gradio/a b/ü.png"))
        .isEqualTo("/tmp/gradio/a%20b/%C3%BC.png");
    assertThat(BackendHttp.abbreviate(null)).isEmpty();
    assertThat(BackendHttp.abbreviate("x".repeat(300))).hasSize(300);
    assertThat(BackendHttp.abbreviate("x".repeat(301))).isEqualTo("x".repeat(300) + "…");
    assertThat(BackendHttp.root(URI.create("http://h:1/"))).isEqualTo(URI.create("http://h:1"));
    assertThat(BackendHttp.root(URI.create("http://h:1/app")))
        .isEqualTo(URI.create("http://h:1/app"));
    assertThatThrownBy(() -> BackendHttp.query("lonely"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aReplyThatIsNotJsonIsATypedError() {
    assertThat(calls.json(response(200, "{\"a\":1}"), "/x").path("a").asInt()).isEqualTo(1);
    assertThatThrownBy(() -> calls.json(response(200, ""), "/x"))
        .isInstanceOfSatisfying(
            TestException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BackendFault.PROTOCOL);
              assertThat(e.getMessage()).isEqualTo("/x answered 200 with an empty body");
              assertThat(e.httpStatus()).isEqualTo(200);
            });
    assertThatThrownBy(() -> calls.json(response(400, "<html>nope"), "/x"))
        .isInstanceOfSatisfying(
            TestException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BackendFault.PROTOCOL);
              assertThat(e.getMessage()).isEqualTo("/x answered malformed JSON: <html>nope");
              assertThat(e.getCause()).isNotNull();
            });
    assertThatThrownBy(() -> calls.json(response(502, "Bad Gateway"), "/x"))
        .isInstanceOfSatisfying(
            TestException.class,
            e -> {
              assertThat(e.kind()).isEqualTo(BackendFault.SERVER_ERROR);
              assertThat(e.getMessage()).isEqualTo("/x answered HTTP 502: Bad Gateway");
              assertThat(e.httpStatus()).isEqualTo(502);
            });
  }

  @Test
  void transportFailuresAreClassified() {
    assertThat(calls.failure("/p", new HttpTimeoutException("slow")))
        .satisfies(e -> assertThat(e.kind()).isEqualTo(BackendFault.TIMEOUT))
        .hasMessage("/p did not answer within PT3S");
    assertThat(calls.failure("/p", new ConnectException("refused")))
        .satisfies(e -> assertThat(e.kind()).isEqualTo(BackendFault.UNREACHABLE))
        .hasMessage("cannot connect to http://127.0.0.1:1 (refused)");
    assertThat(calls.failure("/p", new IOException("reset")))
        .satisfies(e -> assertThat(e.kind()).isEqualTo(BackendFault.UNREACHABLE))
        .hasMessage("the connection to http://127.0.0.1:1 broke during /p (reset)");
    assertThat(calls.failure("/p", new ConnectException()))
        .as("no 'null', no class name")
        .hasMessage("cannot connect to http://127.0.0.1:1 (the connection was refused)");
    try {
      assertThat(calls.failure("/p", new InterruptedException()))
          .satisfies(e -> assertThat(e.kind()).isEqualTo(BackendFault.ABORTED))
          .hasMessage("interrupted while calling /p");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThatThrownBy(() -> calls.send(calls.get("/nothing")))
        .isInstanceOfSatisfying(
            TestException.class, e -> assertThat(e.kind()).isEqualTo(BackendFault.UNREACHABLE));
  }

  @Test
  void everyBackendHasEveryFaultAsAKindOfTheSameName() {
    for (BackendFault fault : BackendFault.values()) {
      assertThat(new ComfyUiException(ComfyUiException.Kind.valueOf(fault.name()), "x").fault())
          .contains(fault);
      assertThat(new GradioException(GradioException.Kind.valueOf(fault.name()), "x").fault())
          .contains(fault);
    }
    assertThat(new GradioException(GradioException.Kind.AUTH, "x").fault()).isEmpty();
    assertThat(new ComfyUiException(ComfyUiException.Kind.VALIDATION, "x").fault()).isEmpty();
  }

  @Test
  void savesWholeAndCheckedOrNotAtAll(@TempDir Path dir) throws IOException {
    Path target = dir.resolve("sub/out.bin");
    assertThat(
            BackendHttp.save(new ByteArrayInputStream(new byte[] {1, 2, 3}), target, bytes -> {}))
        .isEqualTo(3);
    assertThat(Files.readAllBytes(target)).containsExactly(1, 2, 3);
    Path refused = dir.resolve("sub/refused.bin");
    assertThatThrownBy(() ->
            BackendHttp.save(
                new ByteArrayInputStream(new byte[] {1}),
                refused,
                bytes -> {
                  throw new IllegalStateException("wrong size " + bytes);
                }))
        .hasMessage("wrong size 1");
    try (var left = Files.list(dir.resolve("sub"))) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .containsExactly("out.bin"); // no .part, no refused file
    }
  }

  static HttpResponse<String> response(int status, String body) {
    return new HttpResponse<>() {
      @Override
      public int statusCode() {
        return status;
      }

      @Override
      public HttpRequest request() {
        return HttpRequest.newBuilder(URI.create("http://h/x")).build();
      }

      @Override
      public Optional<HttpResponse<String>> previousResponse() {
        return Optional.empty();
      }

      @Override
      public HttpHeaders headers() {
        return HttpHeaders.of(Map.of(), (a, b) -> true);
      }

      @Override
      public String body() {
        return body;
      }

      @Override
      public Optional<SSLSession> sslSession() {
        return Optional.empty();
      }

      @Override
      public URI uri() {
        return URI.create("http://h/x");
      }

      @Override
      public HttpClient.Version version() {
        return HttpClient.Version.HTTP_1_1;
      }
    };
  }
}
