package io.tempera.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.WebSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Reads a canvas WebSocket: joins each message's frames, parses it as JSON, fails on the server's
 * {@code error} message, takes the reply to the socket's {@code authenticate} ({@link
 * #authenticated}) and hands the rest on with the time it arrived. A socket delivers its messages
 * one at a time, so one listener per socket needs no locking of its own.
 */
abstract class JsonSocketListener implements WebSocket.Listener {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final StringBuilder buffer = new StringBuilder();
  private final CompletableFuture<JsonNode> authenticated = new CompletableFuture<>();

  /** The server's {@code authenticated} reply; failed when the server refused the key. */
  CompletableFuture<JsonNode> authenticated() {
    return authenticated;
  }

  @Override
  public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
    long now = System.currentTimeMillis();
    buffer.append(data);
    if (last) {
      String text = buffer.toString();
      buffer.setLength(0);
      JsonNode message;
      try {
        message = JSON.readTree(text);
      } catch (IOException e) {
        throw new IllegalStateException("bad message: " + text, e);
      }
      if (message.path("type").asText().equals("error")) {
        IllegalStateException refused = new IllegalStateException("the server refused: " + message);
        authenticated.completeExceptionally(refused);
        throw refused;
      }
      if (message.path("type").asText().equals("authenticated")) {
        authenticated.complete(message);
      } else {
        onMessage(message, now);
      }
    }
    socket.request(1);
    return null;
  }

  /** One canvas message, received at {@code receivedMillis} (epoch ms). */
  abstract void onMessage(JsonNode message, long receivedMillis);
}
