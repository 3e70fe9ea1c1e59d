package io.tempera.backend;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/**
 * Plain HTTP calls to one backend server: requests against its base URL, each with the client's
 * time limit, and text answers. A transport failure is classified here and becomes the caller's
 * own typed error.
 */
public final class BackendHttp {

  private final HttpClient http;
  private final URI baseUrl;
  private final Duration requestTimeout;

  public BackendHttp(HttpClient http, URI baseUrl, Duration requestTimeout) {
    this.http = http;
    this.baseUrl = baseUrl;
    this.requestTimeout = requestTimeout;
  }

  public HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(requestTimeout);
  }

  public HttpRequest get(String path) {
    return request(path).GET().build();
  }

  public HttpRequest post(String path, String jsonBody) {
    return request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build();
  }

  /** What went wrong below HTTP. */
  public enum Failure {
    /** The caller stopped waiting (its thread was interrupted). */
    ABORTED,
    /** No answer within the time limit. */
    TIMEOUT,
    /** No connection, or it broke. */
    UNREACHABLE
  }

  /** Makes a client's own error of a transport failure. */
  @FunctionalInterface
  public interface Errors<E extends RuntimeException> {
    E of(Failure failure, String message, Exception cause);
  }

  /** Sends and reads the answer as text; an I/O failure or interrupt becomes the caller's error. */
  public <E extends RuntimeException> HttpResponse<String> send(HttpRequest request, Errors<E> errors) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException | InterruptedException e) {
      throw failure(request.uri().getPath(), e, errors);
    }
  }

  /** A failed call of {@code path} as the caller's error (an interrupt is kept set on the thread). */
  public <E extends RuntimeException> E failure(String path, Exception e, Errors<E> errors) {
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
      return errors.of(Failure.ABORTED, "interrupted while calling " + path, e);
    }
    if (e instanceof HttpTimeoutException) {
      return errors.of(Failure.TIMEOUT, path + " did not answer within " + requestTimeout, e);
    }
    if (e instanceof ConnectException) {
      return errors.of(Failure.UNREACHABLE, "cannot connect to " + baseUrl + ": " + e.getMessage(), e);
    }
    return errors.of(Failure.UNREACHABLE, path + " failed: " + e, e);
  }
}
