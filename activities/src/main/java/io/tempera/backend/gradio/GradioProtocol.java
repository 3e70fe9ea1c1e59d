package io.tempera.backend.gradio;

import static io.tempera.backend.BackendHttp.abbreviate;
import static io.tempera.backend.BackendHttp.encode;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.gradio.GradioException.Kind;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs predictions: the queue protocol ({@code {prefix}/queue/join}, then the session's {@code
 * queue/data} event stream) where the server offers it, else the two-step {@code
 * {prefix}/call/{api}}; and {@code {prefix}/cancel}. A prediction that fails or is interrupted
 * before its end is cancelled, so no job runs that no one follows.
 */
final class GradioProtocol {

  private static final Logger log = LoggerFactory.getLogger(GradioProtocol.class);

  private final GradioTransport transport;
  private final GradioDiscovery discovery;
  private final GradioFiles files;
  private final ObjectMapper json = new ObjectMapper();

  GradioProtocol(GradioTransport transport, GradioDiscovery discovery, GradioFiles files) {
    this.transport = transport;
    this.discovery = discovery;
    this.files = files;
  }

  /** See {@link GradioClient#predict}. */
  GradioResult predict(
      GradioApi.Endpoint endpoint,
      ArrayNode data,
      String sessionHash,
      Consumer<BackendProgress> progress,
      Consumer<String> joined) {
    GradioApi server = discovery.api();
    if (server.queueProtocol() && endpoint.queue()) {
      String eventId = join(server, endpoint, data, sessionHash);
      if (eventId != null) {
        joined.accept(eventId);
        return follow(server, endpoint, sessionHash, eventId, progress);
      }
      log.info(
          "{} offers no queue/join for {}; using /call", transport.baseUrl(), endpoint.apiName());
    }
    return call(server, endpoint, data, progress, joined);
  }

  /** POST {prefix}/cancel: removes a queued job, stops a running async one. */
  void cancel(String sessionHash, int fnIndex, String eventId) {
    String path = discovery.api().apiPrefix() + "/cancel";
    ObjectNode body =
        json.createObjectNode().put("session_hash", sessionHash).put("fn_index", fnIndex);
    if (eventId != null) {
      body.put("event_id", eventId);
    }
    HttpResponse<String> response =
        transport.sendAuthenticated(() -> transport.calls().post(path, body.toString()));
    if (response.statusCode() != 200) {
      throw GradioTransport.httpError(path, response);
    }
  }

  // --- the queue protocol ---

  /** POST {prefix}/queue/join; null when the server has no such route (use /call). */
  private String join(
      GradioApi server, GradioApi.Endpoint endpoint, ArrayNode data, String sessionHash) {
    String path = server.apiPrefix() + "/queue/join";
    ObjectNode body = json.createObjectNode();
    body.set("data", data);
    body.put("fn_index", endpoint.fnIndex());
    body.put("session_hash", sessionHash);
    body.putNull("event_data");
    body.putNull("trigger_id");
    HttpResponse<String> response =
        transport.sendAuthenticated(() -> transport.calls().post(path, body.toString()));
    if (response.statusCode() == 404 || response.statusCode() == 405) {
      return null;
    }
    if (response.statusCode() != 200) {
      throw transport.refusal(path, response);
    }
    return eventId(path, response);
  }

  /** Follows the session's queue/data stream until our event completes. */
  private GradioResult follow(
      GradioApi server,
      GradioApi.Endpoint endpoint,
      String sessionHash,
      String eventId,
      Consumer<BackendProgress> progress) {
    String path = server.apiPrefix() + "/queue/data?session_hash=" + encode(sessionHash);
    boolean done = false;
    try (GradioEventStream stream = transport.openStream(path)) {
      GradioEvents.Outputs outputs = new GradioEvents.Outputs();
      List<String> told = new ArrayList<>(); // gr.Warning and gr.Info, each once
      long deadline = System.nanoTime() + transport.options().runTimeout().toNanos();
      while (true) {
        GradioEventStream.Event event = stream.next(deadline);
        JsonNode message = read(event, "the event stream");
        if (message == null || !message.isObject() || !message.path("msg").isTextual()) {
          throw new GradioException(
              Kind.PROTOCOL,
              "the event stream sent an event without msg: " + abbreviate(event.data()));
        }
        String msg = message.get("msg").asText();
        JsonNode id = message.get("event_id");
        boolean ours = id == null || id.isNull() || eventId.equals(id.asText());
        if (!ours) {
          continue;
        }
        switch (msg) {
          case "estimation" -> progress.accept(GradioEvents.estimation(message));
          case "process_starts" -> progress.accept(GradioEvents.processStarts(message));
          case "progress" -> progress.accept(GradioEvents.progress(message.path("progress_data")));
          case "log" -> {
            String text = GradioEvents.logText(message);
            if (text != null) {
              if (!told.contains(text)) {
                told.add(text);
              }
              progress.accept(new BackendProgress(outputs.fraction, null, null, null, text, null));
            }
          }
          case "process_generating", "process_streaming" -> {
            JsonNode values = message.path("output").path("data");
            if (!values.isArray()) {
              throw new GradioException(
                  Kind.PROTOCOL, msg + " without output data: " + abbreviate(event.data()));
            }
            outputs.update((ArrayNode) values);
            String text = outputs.latestText();
            progress.accept(
                new BackendProgress(
                    outputs.fraction,
                    null,
                    null,
                    null,
                    text == null ? "Generating (intermediate result)" : "Generating: " + text,
                    outputs.preview(files::previewBytes)));
          }
          case "process_completed" -> {
            done = true;
            return GradioEvents.completed(message, eventId, event.data()).withWarnings(told);
          }
          case "unexpected_error" -> {
            done = true;
            if (message.path("session_not_found").asBoolean(false)) {
              throw new GradioException(
                  Kind.UNREACHABLE,
                  "the Gradio server lost the queue session (it may have restarted)");
            }
            throw new GradioException(
                Kind.SERVER_ERROR,
                "the Gradio server failed: " + message.path("message").asText("no message"));
          }
          case "close_stream" ->
              throw new GradioException(
                  Kind.UNREACHABLE, "the event stream closed before the prediction finished");
          default -> {} // heartbeat, and types a newer server adds
        }
      }
    } catch (GradioException e) {
      if (!done || e.kind() == Kind.ABORTED) {
        cancelQuietly(
            sessionHash,
            endpoint.fnIndex(),
            eventId); // never leave a job running that no one follows
      }
      throw e;
    }
  }

  // --- the two-step /call protocol ---

  private GradioResult call(
      GradioApi server,
      GradioApi.Endpoint endpoint,
      ArrayNode data,
      Consumer<BackendProgress> progress,
      Consumer<String> joined) {
    String name = endpoint.apiName().substring(1);
    String path = server.apiPrefix() + "/call/" + name;
    ObjectNode body = json.createObjectNode();
    body.set("data", data);
    HttpResponse<String> response =
        transport.sendAuthenticated(() -> transport.calls().post(path, body.toString()));
    if (response.statusCode() != 200) {
      throw transport.refusal(path, response);
    }
    String eventId = eventId(path, response);
    joined.accept(eventId);
    progress.accept(new BackendProgress(0, null, null, null, "Starting", null));
    boolean done = false;
    try (GradioEventStream stream = transport.openStream(path + "/" + encode(eventId))) {
      long deadline = System.nanoTime() + transport.options().runTimeout().toNanos();
      while (true) {
        GradioEventStream.Event event = stream.next(deadline);
        JsonNode value = read(event, "the /call stream");
        switch (event.event() == null ? "" : event.event()) {
          case "complete" -> {
            done = true;
            return GradioEvents.callCompleted(value, eventId, event.data());
          }
          case "error" -> {
            done = true;
            throw GradioEvents.callError(value);
          }
          case "generating" ->
              progress.accept(
                  new BackendProgress(
                      0, null, null, null, "Generating (intermediate result)", null));
          default -> {} // heartbeat
        }
      }
    } catch (GradioException e) {
      if (!done) {
        cancelQuietly(
            eventId, endpoint.fnIndex(), eventId); // a /call job's session is its event id
      }
      throw e;
    }
  }

  /** An event's data as JSON (null for none); {@code stream} names the stream in the error. */
  private JsonNode read(GradioEventStream.Event event, String stream) {
    try {
      return json.readTree(event.data());
    } catch (JsonProcessingException e) {
      throw new GradioException(
          Kind.PROTOCOL, stream + " sent malformed JSON: " + abbreviate(event.data()));
    }
  }

  /** The event id of an accepted join or call. */
  private String eventId(String path, HttpResponse<String> response) {
    JsonNode reply = transport.parse(response, path);
    if (!reply.path("event_id").isTextual() || reply.get("event_id").asText().isBlank()) {
      throw new GradioException(
          Kind.PROTOCOL, path + " answered without an event_id: " + abbreviate(response.body()));
    }
    return reply.get("event_id").asText();
  }

  private void cancelQuietly(String sessionHash, int fnIndex, String eventId) {
    boolean interrupted = Thread.interrupted();
    try {
      cancel(sessionHash, fnIndex, eventId);
    } catch (RuntimeException e) {
      log.debug(
          "cancelling event {} on {} failed: {}", eventId, transport.baseUrl(), e.getMessage());
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
