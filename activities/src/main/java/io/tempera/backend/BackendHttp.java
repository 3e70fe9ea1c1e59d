package io.tempera.backend;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.BiFunction;

/**
 * Plain HTTP calls to one backend server: requests against its base URL, each with the client's
 * time limit, and text answers. What a transport failure means is the caller's (its own typed error).
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

  /** Sends and reads the answer as text; an I/O failure or interrupt becomes {@code transport(path, cause)}. */
  public <E extends RuntimeException> HttpResponse<String> send(HttpRequest request, BiFunction<String, Exception, E> transport) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException | InterruptedException e) {
      throw transport.apply(request.uri().getPath(), e);
    }
  }
}
