package io.tempera.backend;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.function.LongConsumer;

/**
 * The HTTP layer both backend clients share: requests against one server's base URL, each with the
 * client's time limit; text, JSON and streamed answers; and the one classification of what went
 * wrong below HTTP (interrupted, timed out, unreachable) or in a reply that is not JSON. Every
 * failure becomes the client's own typed error through its {@link Errors}.
 *
 * @param <E> the client's exception
 */
public final class BackendHttp<E extends BackendException> {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ABBREVIATE_AT = 300;

  private final HttpClient http;
  private final URI baseUrl;
  private final Duration requestTimeout;
  private final Errors<E> errors;
  private final String backend;
  private final BackendTracing tracing;

  /** Makes a client's own error of a shared fault. */
  @FunctionalInterface
  public interface Errors<E extends BackendException> {
    E of(BackendFault fault, String message, Integer httpStatus, Throwable cause);
  }

  /**
   * @param baseUrl the server's root, without a trailing slash ({@link #root})
   */
  public BackendHttp(HttpClient http, URI baseUrl, Duration requestTimeout, Errors<E> errors) {
    this(http, baseUrl, requestTimeout, errors, "backend", BackendTracing.NONE);
  }

  /**
   * @param backend the backend's type, on the calls' spans ({@code tempera.backend})
   * @param tracing the calls' spans, or {@link BackendTracing#NONE}
   */
  public BackendHttp(
      HttpClient http,
      URI baseUrl,
      Duration requestTimeout,
      Errors<E> errors,
      String backend,
      BackendTracing tracing) {
    this.http = http;
    this.baseUrl = baseUrl;
    this.requestTimeout = requestTimeout;
    this.errors = errors;
    this.backend = backend;
    this.tracing = tracing;
  }

  /** A server's root URL as the clients keep it: without a trailing slash. */
  public static URI root(URI baseUrl) {
    String base = baseUrl.toString();
    return URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
  }

  public URI baseUrl() {
    return baseUrl;
  }

  public HttpRequest.Builder request(String path) {
    return request(URI.create(baseUrl + path));
  }

  public HttpRequest.Builder request(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(requestTimeout);
  }

  public HttpRequest get(String path) {
    return request(path).GET().build();
  }

  public HttpRequest post(String path, String jsonBody) {
    return request(path)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(jsonBody))
        .build();
  }

  /** Sends and reads the answer as text; an I/O failure or interrupt becomes the caller's error. */
  public HttpResponse<String> send(HttpRequest request) {
    try {
      return tracing.call(
          backend, request, r -> http.send(r, HttpResponse.BodyHandlers.ofString()));
    } catch (IOException | InterruptedException e) {
      throw failure(request.uri().getPath(), e);
    }
  }

  /**
   * Sends and opens the answer as a stream (the caller closes it); {@code path} names it in errors.
   */
  public HttpResponse<InputStream> open(HttpRequest request, String path) {
    try {
      return tracing.call(
          backend, request, r -> http.send(r, HttpResponse.BodyHandlers.ofInputStream()));
    } catch (IOException | InterruptedException e) {
      throw failure(path, e);
    }
  }

  /**
   * A failed call of {@code path} as the caller's error (an interrupt is kept set on the thread).
   */
  public E failure(String path, Exception e) {
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return errors.of(BackendFault.ABORTED, "interrupted while calling " + path, null, e);
    }
    if (e instanceof HttpTimeoutException) {
      return errors.of(
          BackendFault.TIMEOUT, path + " did not answer within " + requestTimeout, null, e);
    }
    if (e instanceof ConnectException) {
      return errors.of(
          BackendFault.UNREACHABLE,
          "cannot connect to " + baseUrl + " (" + reason(e, "the connection was refused") + ")",
          null,
          e);
    }
    return errors.of(
        BackendFault.UNREACHABLE,
        "the connection to "
            + baseUrl
            + " broke during "
            + path
            + " ("
            + reason(e, "no reason given")
            + ")",
        null,
        e);
  }

  /**
   * Why an I/O call failed, in words: the exception's message (or its cause's), never a class name
   * or "null".
   */
  static String reason(Throwable e, String otherwise) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String message = t.getMessage();
      if (message != null && !message.isBlank() && !message.equals("null")) {
        return message.length() > ABBREVIATE_AT
            ? message.substring(0, ABBREVIATE_AT) + "…"
            : message;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return otherwise;
  }

  /** The caller's error of a shared fault. */
  public E error(BackendFault fault, String message) {
    return errors.of(fault, message, null, null);
  }

  /**
   * The answer's JSON. An empty body is PROTOCOL; so is malformed JSON, except on a 5xx, where it
   * is the server's error page (SERVER_ERROR, with the body).
   */
  public JsonNode json(HttpResponse<String> response, String path) {
    int status = response.statusCode();
    try {
      JsonNode node = JSON.readTree(response.body());
      if (node == null || node.isMissingNode()) {
        throw errors.of(
            BackendFault.PROTOCOL,
            path + " answered " + status + " with an empty body",
            status,
            null);
      }
      return node;
    } catch (JsonProcessingException e) {
      if (status >= 500) {
        throw errors.of(BackendFault.SERVER_ERROR, answered(path, response), status, null);
      }
      throw errors.of(
          BackendFault.PROTOCOL,
          path + " answered malformed JSON: " + abbreviate(response.body()),
          status,
          e);
    }
  }

  /** "{path} answered HTTP {status}: {body}", the words of an unexpected status. */
  public static String answered(String path, HttpResponse<String> response) {
    return path + " answered HTTP " + response.statusCode() + ": " + abbreviate(response.body());
  }

  /**
   * Streams {@code in} to {@code target} through a temporary file beside it, which replaces the
   * target only once whole and {@code check}ed (given the byte count; it throws to refuse it).
   *
   * @return the bytes written
   */
  public static long save(InputStream in, Path target, LongConsumer check) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path temp = Files.createTempFile(dir, ".download-", ".part");
    try {
      long bytes = Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
      check.accept(bytes);
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return bytes;
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** One value, form- and query-encoded. */
  public static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  /** A file path for a URL: encoded, but with its slashes kept and spaces as %20. */
  public static String encodePath(String path) {
    return encode(path).replace("%2F", "/").replace("+", "%20");
  }

  /** "a=1&b=2" of names and values in turn, each encoded (a query string or a form body). */
  public static String query(String... namesAndValues) {
    if (namesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("names and values come in pairs");
    }
    StringBuilder query = new StringBuilder();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      query
          .append(i == 0 ? "" : "&")
          .append(encode(namesAndValues[i]))
          .append('=')
          .append(encode(namesAndValues[i + 1]));
    }
    return query.toString();
  }

  /** A body for a message: at most 300 characters (then "…"); "" for none. */
  public static String abbreviate(String body) {
    if (body == null) {
      return "";
    }
    return body.length() <= ABBREVIATE_AT ? body : body.substring(0, ABBREVIATE_AT) + "…";
  }
}
