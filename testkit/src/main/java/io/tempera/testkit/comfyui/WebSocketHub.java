package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.io.IOException;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Sinks;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The /ws connections, one per client id, and what is sent on them: the queue status to all, a
 * prompt's events to its client's socket only, previews as binary frames.
 */
final class WebSocketHub {

  /** A /ws connection. */
  private static final class Session {
    final String clientId;
    final Sinks.Many<WebSocketFrame> out = Sinks.many().unicast().onBackpressureBuffer();
    volatile boolean previewMetadata;

    Session(String clientId) {
      this.clientId = clientId;
    }

    synchronized void send(WebSocketFrame frame) {
      if (out.tryEmitNext(frame).isFailure()) {
        frame.release();
      }
    }

    synchronized void close() {
      out.tryEmitComplete();
    }
  }

  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final ComfyJson json;
  private final PromptQueue queue;
  private final Supplier<ObjectNode> features;

  /**
   * @param features what the server answers a client's {@code feature_flags} with
   */
  WebSocketHub(ComfyJson json, PromptQueue queue, Supplier<ObjectNode> features) {
    this.json = json;
    this.queue = queue;
    this.features = features;
  }

  /**
   * GET /ws: a new connection for {@code ?clientId=} (a new id when none), replacing that client's
   * previous one.
   */
  Publisher<Void> connect(HttpServerRequest req, HttpServerResponse res) {
    String requested =
        ComfyUiRoutes.first(new QueryStringDecoder(req.uri()).parameters(), "clientId", null);
    String clientId =
        requested == null || requested.isBlank()
            ? UUID.randomUUID().toString().replace("-", "")
            : requested;
    return res.sendWebsocket((in, out) -> {
      Session session = new Session(clientId);
      Session previous = sessions.put(clientId, session);
      if (previous != null) {
        previous.close();
      }
      ObjectNode status = statusMessage();
      ((ObjectNode) status.get("data")).put("sid", clientId);
      session.send(text(status));
      String runningNode = queue.runningNodeOf(clientId);
      if (runningNode != null) {
        ObjectNode executing = json.object();
        executing.put("type", "executing");
        executing.putObject("data").put("node", runningNode).put("display_node", runningNode);
        session.send(text(executing));
      }
      in.receive()
          .asString()
          .subscribe(message -> onClientMessage(session, message), e -> {}, () -> {});
      return out.sendObject(session.out.asFlux())
          .then()
          .doFinally(signal -> sessions.remove(clientId, session));
    });
  }

  private void onClientMessage(Session session, String message) {
    JsonNode node = json.readOrEmpty(message);
    if ("feature_flags".equals(node.path("type").asText())) {
      session.previewMetadata =
          node.path("data").path("supports_preview_metadata").asBoolean(false);
      ObjectNode reply = json.object();
      reply.put("type", "feature_flags");
      reply.set("data", features.get());
      session.send(text(reply));
    }
  }

  /**
   * Per-prompt events go only to the socket of the prompt's client_id. A prompt without one gets
   * only progress, progress_state and execution_interrupted, broadcast to every socket.
   */
  void sendTo(QueuedPrompt job, ObjectNode message) {
    String clientId = job.clientId();
    if (clientId != null) {
      Session session = sessions.get(clientId);
      if (session != null) {
        session.send(text(message));
      }
      return;
    }
    String type = message.path("type").asText();
    if (type.equals("progress")
        || type.equals("progress_state")
        || type.equals("execution_interrupted")) {
      sessions.values().forEach(s -> s.send(text(message)));
    }
  }

  /**
   * A preview of the prompt's node as a binary frame to the prompt's client (with metadata when it
   * asked for it).
   */
  void sendPreview(QueuedPrompt job, String nodeId, byte[] png) throws IOException {
    Session session = sessionOf(job);
    if (session == null) {
      return;
    }
    ByteBuf frame = Unpooled.buffer();
    if (session.previewMetadata) {
      ObjectNode meta = json.object();
      meta.put("node_id", nodeId)
          .put("prompt_id", job.promptId())
          .put("display_node_id", nodeId)
          .putNull("parent_node_id");
      meta.put("real_node_id", nodeId).put("image_type", "image/png");
      byte[] metaBytes = json.mapper.writeValueAsBytes(meta);
      frame.writeInt(4).writeInt(metaBytes.length).writeBytes(metaBytes);
    } else {
      frame.writeInt(1).writeInt(2);
    }
    frame.writeBytes(png);
    session.send(new BinaryWebSocketFrame(frame));
  }

  /** The queue status to every socket. */
  void broadcastStatus() {
    ObjectNode status = statusMessage();
    sessions.values().forEach(s -> s.send(text(status)));
  }

  /** Closes the socket of the prompt's client abruptly, as a network drop would. */
  void drop(QueuedPrompt job) {
    Session session = sessionOf(job);
    if (session != null) {
      sessions.remove(session.clientId, session);
      session.close();
    }
  }

  /** Closes every socket abruptly, as a network drop would. */
  void dropAll() {
    sessions.values().forEach(Session::close);
    sessions.clear();
  }

  private Session sessionOf(QueuedPrompt job) {
    String clientId = job.clientId();
    return clientId == null ? null : sessions.get(clientId);
  }

  private ObjectNode statusMessage() {
    ObjectNode message = json.object();
    message.put("type", "status");
    message.putObject("data").set("status", queue.info());
    return message;
  }

  private static TextWebSocketFrame text(JsonNode message) {
    return new TextWebSocketFrame(message.toString());
  }
}
