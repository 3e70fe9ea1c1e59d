package io.tempera.bench;

import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * How the benches call the API of the system they start: with an operator key (it acts for every
 * project) made in the system's keys file before it starts, sent as {@code Authorization: Bearer}
 * on every request, and in the {@code authenticate} message a canvas socket opens with. The key is
 * made in the file the system reads ({@code keys.json} beside its output root unless the system is
 * told another), so a key in the file before start also means the embedded default makes no
 * development key of its own.
 */
final class BenchApi {

  private static final Map<Path, String> KEYS = new ConcurrentHashMap<>();

  private BenchApi() {}

  /** The keys file of a system whose output root is {@code outputRoot}: keys.json beside it. */
  static Path keysFile(Path outputRoot) {
    return outputRoot.toAbsolutePath().normalize().resolveSibling("keys.json");
  }

  /** An operator key in {@code keysFile}: made there the first time, the same one after. */
  static String operatorKey(Path keysFile) {
    return KEYS.computeIfAbsent(
        keysFile.toAbsolutePath().normalize(),
        file -> new ApiKeyStore(file).create(Caller.Role.OPERATOR, null, "bench").secret());
  }

  /** {@code builder} with {@code key} as its bearer token. */
  static HttpRequest.Builder authorized(HttpRequest.Builder builder, String key) {
    return builder.header("Authorization", "Bearer " + key);
  }

  /** A request to the API with {@code key}. */
  static HttpRequest.Builder request(URI uri, String key) {
    return authorized(HttpRequest.newBuilder(uri), key);
  }

  /**
   * A canvas socket on {@code uri}, authenticated with {@code key}: its {@code authenticate}
   * message is answered before this returns, so what the bench sends next is timed on a socket that
   * is ready, as a canvas's is.
   */
  static WebSocket openSocket(HttpClient http, URI uri, JsonSocketListener listener, String key)
      throws Exception {
    WebSocket socket =
        http.newWebSocketBuilder().buildAsync(uri, listener).get(10, TimeUnit.SECONDS);
    String authenticate =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .writeValueAsString(Map.of("type", "authenticate", "key", key));
    socket.sendText(authenticate, true).get(10, TimeUnit.SECONDS);
    listener.authenticated().get(30, TimeUnit.SECONDS);
    return socket;
  }
}
