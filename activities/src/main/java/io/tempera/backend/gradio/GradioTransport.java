package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.backend.BackendHttp;
import io.tempera.backend.gradio.GradioException.Kind;
import java.io.IOException;
import java.io.InputStream;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP to one Gradio server: requests that log in ({@code POST /login}, the cookie kept) when the
 * app asks for it, event streams, file streams, and the errors of refused or unexpected answers.
 */
final class GradioTransport implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(GradioTransport.class);

  private final URI baseUrl;
  private final GradioClientOptions options;
  private final HttpClient http;
  private final BackendHttp<GradioException> calls;
  private final Semaphore turns;

  /** Builds a request afresh (it is sent again after logging in). */
  @FunctionalInterface
  interface RequestFactory {
    HttpRequest build();
  }

  GradioTransport(URI baseUrl, GradioClientOptions options) {
    this.baseUrl = BackendHttp.root(baseUrl);
    this.options = options;
    this.http =
        HttpClient.newBuilder()
            // Gradio (uvicorn) speaks HTTP/1.1: an h2c upgrade offer is only noise in its log
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(options.connectTimeout())
            .cookieHandler(new CookieManager(null, CookiePolicy.ACCEPT_ALL))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    this.calls =
        new BackendHttp<>(
            http,
            this.baseUrl,
            options.requestTimeout(),
            GradioException::of,
            GradioBackend.TYPE,
            options.tracing());
    this.turns = new Semaphore(options.maxRequests(), true);
  }

  URI baseUrl() {
    return baseUrl;
  }

  GradioClientOptions options() {
    return options;
  }

  BackendHttp<GradioException> calls() {
    return calls;
  }

  /** Sends, waiting for a turn among this worker's requests to the app (maxRequests at once). */
  private HttpResponse<String> send(HttpRequest request) {
    try {
      turns.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new GradioException(Kind.ABORTED, "interrupted while waiting to call the app", null, e);
    }
    try {
      return calls.send(request);
    } finally {
      turns.release();
    }
  }

  /** Sends; on 401 logs in (once) with the configured credentials and sends again. */
  HttpResponse<String> sendAuthenticated(RequestFactory factory) {
    HttpResponse<String> response = send(factory.build());
    if (response.statusCode() == 401
        || (response.statusCode() == 403 && response.body().contains("Not authenticated"))) {
      if (!options.hasCredentials()) {
        throw new GradioException(
            Kind.AUTH,
            "the Gradio app at "
                + baseUrl
                + " needs a login ("
                + detail(response.body())
                + "); set tempera.worker.gradio-username and gradio-password",
            response.statusCode(),
            null);
      }
      login();
      response = send(factory.build());
      if (response.statusCode() == 401) {
        throw new GradioException(
            Kind.AUTH,
            "the Gradio app at "
                + baseUrl
                + " still refuses us after logging in: "
                + detail(response.body()),
            401,
            null);
      }
    }
    return response;
  }

  /** POST /login (form): the cookie it sets is kept by the client's cookie store. */
  private void login() {
    String form = BackendHttp.query("username", options.username(), "password", options.password());
    HttpResponse<String> response =
        send(
            calls
                .request("/login")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .build());
    if (response.statusCode() != 200) {
      throw new GradioException(
          Kind.AUTH,
          "logging in to the Gradio app at " + baseUrl + " failed: " + detail(response.body()),
          response.statusCode(),
          null);
    }
    log.info("logged in to the Gradio app at {}", baseUrl);
  }

  JsonNode parse(HttpResponse<String> response, String path) {
    return calls.json(response, path);
  }

  /** GET an event stream ({@code text/event-stream}), read on its own thread. */
  GradioEventStream openStream(String path) {
    HttpResponse<InputStream> response =
        calls.open(calls.request(path).header("Accept", "text/event-stream").GET().build(), path);
    if (response.statusCode() != 200) {
      String body;
      try (InputStream in = response.body()) {
        body = new String(in.readNBytes(2000), StandardCharsets.UTF_8);
      } catch (IOException e) {
        body = "";
      }
      Kind kind =
          response.statusCode() == 401 || response.statusCode() == 403
              ? Kind.AUTH
              : response.statusCode() == 404 ? Kind.UNREACHABLE : Kind.SERVER_ERROR;
      throw new GradioException(
          kind,
          path + " answered HTTP " + response.statusCode() + ": " + abbreviate(body),
          response.statusCode(),
          null);
    }
    return new GradioEventStream(response.body(), options);
  }

  /**
   * GET a file as a stream, whatever its status (the caller checks it); {@code path} names it in
   * errors.
   */
  HttpResponse<InputStream> openFile(URI uri, String path) {
    return calls.open(calls.request(uri).GET().build(), path);
  }

  /** A refused join or call: 422/400 are the inputs' fault, 503 a full queue, 5xx the server's. */
  GradioException refusal(String path, HttpResponse<String> response) {
    int status = response.statusCode();
    String detail = detail(response.body());
    return switch (status) {
      case 400, 422 ->
          new GradioException(
              Kind.VALIDATION, "the Gradio app refused the inputs: " + detail, status, null);
      case 503 -> new GradioException(Kind.BUSY, "the Gradio app is busy: " + detail, status, null);
      default -> httpError(path, response);
    };
  }

  static GradioException httpError(String path, HttpResponse<String> response) {
    int status = response.statusCode();
    Kind kind =
        status == 401 || status == 403
            ? Kind.AUTH
            : status == 404 ? Kind.NOT_FOUND : Kind.SERVER_ERROR;
    return new GradioException(kind, BackendHttp.answered(path, response), status, null);
  }

  /**
   * The server's words from an error body: {"detail": "…"} (4.x, early 5.x), {"detail": {"error",
   * "auth_message"}} (5.36+, 6.x), a validator's [{"msg"}] list, or the plain body.
   */
  static String detail(String body) {
    try {
      JsonNode node = new ObjectMapper().readTree(body);
      JsonNode detail = node == null ? null : node.get("detail");
      if (detail != null) {
        if (detail.isTextual()) {
          return detail.asText();
        }
        if (detail.isObject()) {
          String error = detail.path("error").asText("");
          String auth = detail.path("auth_message").asText("");
          return (error + (auth.isBlank() ? "" : (error.isBlank() ? "" : ": ") + auth)).trim();
        }
        if (detail.isArray() && !detail.isEmpty()) {
          List<String> parts = new ArrayList<>();
          detail.forEach(d -> parts.add(d.path("msg").asText(d.toString())));
          return String.join("; ", parts);
        }
      }
      if (node != null && node.path("error").isTextual()) {
        return node.get("error").asText();
      }
    } catch (JsonProcessingException | RuntimeException notJson) {
      // a plain-text body
    }
    return abbreviate(body);
  }

  @Override
  public void close() {
    http.close();
  }
}
