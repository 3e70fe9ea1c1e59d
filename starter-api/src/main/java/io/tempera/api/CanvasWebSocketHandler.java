package io.tempera.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.progress.ProgressEvent;
import io.tempera.security.ApiKeyStore;
import io.tempera.security.Caller;
import io.tempera.security.CallerAuthentication;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.socket.WebSocketHandler;
import org.springframework.web.reactive.socket.WebSocketMessage;
import org.springframework.web.reactive.socket.WebSocketSession;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/**
 * The canvas protocol on {@code /ws}. Client messages: {@code start_generation}, {@code
 * start_batch}, {@code cancel_generation}, {@code subscribe}, {@code subscribe_batch}, {@code
 * unsubscribe}, {@code list_generations}, {@code ping}. Server messages: {@code task_acknowledged},
 * {@code batch_acknowledged}, {@code task_state}, {@code task_progress}, {@code task_success},
 * {@code task_failed}, {@code batch_progress}, {@code batch_ended}, {@code generations}, {@code
 * pong}, {@code error}. A bad message gets an {@code error} reply and the socket stays open;
 * closing the socket never stops a generation.
 */
@Component
public class CanvasWebSocketHandler implements WebSocketHandler {

  private static final Logger log = LoggerFactory.getLogger(CanvasWebSocketHandler.class);
  private static final int MAX_MESSAGE_CHARS = 256 * 1024;
  static final int DEFAULT_MAX_FOLLOWED_TASKS = 500;

  /** The fields each message type may carry; any other is refused by name. */
  public static final Map<String, Set<String>> FIELDS =
      Map.of(
          "start_generation",
          Set.of(
              "type",
              "functionId",
              "nodeType",
              "functionVersion",
              "tier",
              "priority",
              "parameters",
              "projectId",
              "nodeId",
              "requestId",
              "webhook"),
          "start_batch",
          withType(StrictJson.BATCH_FIELDS),
          "cancel_generation",
          Set.of("type", "taskId"),
          "subscribe",
          Set.of("type", "taskIds", "lastEventIds"),
          "unsubscribe",
          Set.of("type", "taskIds"),
          "subscribe_batch",
          Set.of("type", "batchId", "lastEventId"),
          "list_generations",
          Set.of("type", "nodeId", "projectId", "status", "cursor", "limit", "subscribe"),
          "ping",
          Set.of("type"),
          "authenticate",
          Set.of("type", "key"));

  /** How long a socket may stay open without authenticating. */
  static final java.time.Duration AUTHENTICATE_WITHIN = java.time.Duration.ofSeconds(10);

  private final GenerationService generations;
  private final GenerationFeed feed;
  private final ObjectMapper json;
  private final int maxFollowedTasks;
  private final ApiKeyStore keys;
  private final io.tempera.security.ConnectionLimits connections;
  private final io.tempera.config.TemperaProperties.Limits limits;
  private final GenerationHistory history;
  private BatchService batches;

  private BatchFeed batchFeed;

  /** The batches started by {@code start_batch} (absent: the socket starts none). */
  @org.springframework.beans.factory.annotation.Autowired(required = false)
  void setBatches(BatchService batches) {
    this.batches = batches;
  }

  /** The batches' progress, for {@code subscribe_batch} (absent: the socket follows none). */
  @org.springframework.beans.factory.annotation.Autowired(required = false)
  void setBatchFeed(BatchFeed batchFeed) {
    this.batchFeed = batchFeed;
  }

  public CanvasWebSocketHandler(
      GenerationService generations,
      GenerationHistory history,
      GenerationFeed feed,
      ApiKeyStore keys,
      io.tempera.security.ConnectionLimits connections,
      io.tempera.config.TemperaProperties properties,
      ObjectMapper templateObjectMapper,
      @org.springframework.beans.factory.annotation.Value(
              "${tempera.canvas.max-followed-tasks:" + DEFAULT_MAX_FOLLOWED_TASKS + "}")
          int maxFollowedTasks) {
    this.generations = generations;
    this.history = history;
    this.feed = feed;
    this.keys = keys;
    this.connections = connections;
    this.limits = properties.limits();
    this.json = templateObjectMapper;
    this.maxFollowedTasks = maxFollowedTasks;
  }

  @Override
  public Mono<Void> handle(WebSocketSession session) {
    Connection connection =
        new Connection(
            maxFollowedTasks,
            limits.maxPendingReplies(),
            limits.messagesPerSecond(),
            () -> {
              // a client that does not read its replies: disconnected before they pile up
              log.info("closing a canvas socket whose client does not read");
              session
                  .close(
                      org.springframework.web.reactive.socket.CloseStatus.POLICY_VIOLATION
                          .withReason("not reading"))
                  .subscribe();
            });
    // a key sent on the upgrade request (clients that can set headers) authenticates the socket
    Mono<Void> upgradeKey =
        session
            .getHandshakeInfo()
            .getPrincipal()
            .filter(CallerAuthentication.class::isInstance)
            .doOnNext(p -> signIn(connection, ((CallerAuthentication) p).getPrincipal()))
            .then();
    Mono<Void> input =
        upgradeKey
            .thenMany(session.receive())
            .concatMap(frame ->
                onFrame(connection, frame)
                    .onErrorResume(e -> {
                      ApiException api = Blocking.translate(e) instanceof ApiException a ? a : null;
                      if (api == null) {
                        log.warn("websocket message failed", e);
                      }
                      connection.reply(
                          error(
                              api == null ? "INTERNAL" : api.code(),
                              api == null
                                  ? "Something went wrong on our side; the error was logged"
                                  : api.getMessage(),
                              null,
                              api == null ? null : api.problems()));
                      return Mono.empty();
                    }))
            .then()
            .doFinally(s -> connection.close());
    Mono<Void> authenticateInTime =
        Mono.delay(AUTHENTICATE_WITHIN)
            .filter(tick -> connection.caller == null)
            .doOnNext(tick ->
                connection.refuse(
                    error(
                        "UNAUTHENTICATED",
                        "Authenticate first: send {\"type\":\"authenticate\",\"key\":\"<API key>\"}"
                            + " within "
                            + AUTHENTICATE_WITHIN.toSeconds()
                            + " s of connecting",
                        null,
                        null)))
            .then();
    Flux<String> tasks =
        connection
            .follows
            .asFlux()
            .flatMap(
                follow ->
                    (follow.checked()
                            ? feed.follow(follow.taskId(), follow.lastSeen())
                            : Blocking.call(
                                    () -> {
                                      generations.requireAccess(follow.taskId(), follow.caller());
                                      return follow;
                                    })
                                .flatMapMany(ok -> feed.follow(follow.taskId(), follow.lastSeen())))
                        // a task is no longer followed once its end goes out: a subscribe the
                        // client sends on seeing the end follows it afresh (the end again)
                        .doOnNext(event -> {
                          if (event instanceof GenerationFeed.Final) {
                            connection.followed.remove(follow.taskId());
                          }
                        })
                        .map(event -> render(follow.taskId(), event))
                        .takeUntilOther(
                            connection.unfollows.asFlux().filter(follow.taskId()::equals))
                        .doFinally(s -> connection.followed.remove(follow.taskId()))
                        .onErrorResume(e -> {
                          ApiException api =
                              Blocking.translate(e) instanceof ApiException a ? a : null;
                          return Mono.just(
                              write(
                                  error(
                                      api == null ? "INTERNAL" : api.code(),
                                      api == null ? "Following the task failed" : api.getMessage(),
                                      follow.taskId(),
                                      null)));
                        }),
                maxFollowedTasks,
                1);
    Flux<String> batchProgress =
        connection
            .batchFollows
            .asFlux()
            .flatMap(
                follow ->
                    Blocking.call(
                            () -> {
                              if (batches == null || batchFeed == null) {
                                throw new ApiException(
                                    org.springframework.http.HttpStatus.UNPROCESSABLE_CONTENT,
                                    "BATCHES_UNAVAILABLE",
                                    "This server runs no batches");
                              }
                              batches.requireAccess(follow.taskId(), follow.caller());
                              return follow;
                            })
                        .flatMapMany(ok -> batchFeed.follow(follow.taskId(), follow.lastSeen()))
                        .map(event -> write(batchMessage(event)))
                        .doFinally(s -> connection.followed.remove(BATCH + follow.taskId()))
                        .onErrorResume(e -> {
                          ApiException api =
                              Blocking.translate(e) instanceof ApiException a ? a : null;
                          Map<String, Object> reply =
                              error(
                                  api == null ? "INTERNAL" : api.code(),
                                  api == null ? "Following the batch failed" : api.getMessage(),
                                  null,
                                  null);
                          reply.put("batchId", follow.taskId());
                          return Mono.just(write(reply));
                        }),
                maxFollowedTasks,
                1);
    Flux<WebSocketMessage> output =
        Flux.merge(
            connection
                .replies
                .asFlux()
                .concatMap(reply -> {
                  if (reply instanceof Refusal refusal) {
                    // the refusal's error goes out first; then the socket closes (policy violation)
                    return session
                        .close(
                            org.springframework.web.reactive.socket.CloseStatus.POLICY_VIOLATION
                                .withReason("unauthenticated"))
                        .then(Mono.<WebSocketMessage>empty());
                  }
                  return Mono.just(session.textMessage(write(reply)));
                }),
            tasks.map(session::textMessage),
            batchProgress.map(session::textMessage));
    return Mono.zip(
            input,
            session.send(output),
            authenticateInTime.takeUntilOther(session.closeStatus()).then(Mono.just(true)))
        .then();
  }

  private Mono<Void> onFrame(Connection connection, WebSocketMessage frame) {
    return switch (frame.getType()) {
      case TEXT -> onMessage(connection, frame.getPayloadAsText());
      case BINARY -> {
        connection.reply(
            error("INVALID_MESSAGE", "Send JSON text frames, not binary ones", null, null));
        yield Mono.empty();
      }
      case PING, PONG -> Mono.empty();
    };
  }

  /**
   * The socket acts for {@code caller} from now on, if its key may hold one more following
   * connection; else it is refused and closed.
   */
  private boolean signIn(Connection connection, Caller caller) {
    java.util.Optional<io.tempera.security.ConnectionLimits.Held> held = connections.open(caller);
    if (held.isEmpty()) {
      ApiException e = GenerationController.tooManyConnections(connections.perKey());
      connection.refuse(error(e.code(), e.getMessage(), null, null));
      return false;
    }
    connection.caller = caller;
    connection.held = held.get();
    return true;
  }

  private Mono<Void> onMessage(Connection connection, String text) {
    if (!connection.mayReceive()) {
      connection.reply(
          error(
              "RATE_LIMITED",
              "Too many messages: a socket may send "
                  + limits.messagesPerSecond()
                  + " a second (tempera.limits.messages-per-second); this one was not handled",
              null,
              null));
      return Mono.empty();
    }
    if (text.length() > MAX_MESSAGE_CHARS) {
      connection.reply(
          error(
              "MESSAGE_TOO_LARGE",
              "Messages are limited to " + MAX_MESSAGE_CHARS + " characters",
              null,
              null));
      return Mono.empty();
    }
    JsonNode message;
    try {
      message = StrictJson.parse(text);
    } catch (JsonProcessingException e) {
      connection.reply(
          error("INVALID_JSON", "Messages must be JSON objects with a 'type'", null, null));
      return Mono.empty();
    }
    if (message == null || !message.isObject() || !message.path("type").isTextual()) {
      connection.reply(
          error("INVALID_MESSAGE", "Messages must be JSON objects with a 'type'", null, null));
      return Mono.empty();
    }
    String type = message.get("type").asText();
    if (type.equals("authenticate")) {
      return authenticate(connection, message);
    }
    if (connection.caller == null) {
      connection.refuse(
          error(
              "UNAUTHENTICATED",
              "Authenticate first: the first message on a socket is"
                  + " {\"type\":\"authenticate\",\"key\":\"<API key>\"}",
              null,
              null));
      return Mono.empty();
    }
    Set<String> known = FIELDS.get(type);
    if (known != null) {
      java.util.List<io.tempera.template.RequestProblem> unknown =
          StrictJson.unknownFields(message, known);
      if (!unknown.isEmpty()) {
        // a refused start_generation answers with the REST codes, and with its nodeId and requestId
        Map<String, Object> reply =
            error(
                type.startsWith("start_") ? "INVALID_REQUEST" : "INVALID_MESSAGE",
                StrictJson.summary(unknown),
                null,
                unknown);
        if (type.startsWith("start_")) {
          putIfText(reply, message, "nodeId");
          putIfText(reply, message, "requestId");
        }
        connection.reply(reply);
        return Mono.empty();
      }
    }
    return switch (type) {
      case "start_generation" -> start(connection, message);
      case "start_batch" -> startBatch(connection, message);
      case "cancel_generation" -> cancel(connection, message);
      case "subscribe" -> subscribe(connection, message);
      case "subscribe_batch" -> subscribeBatch(connection, message);
      case "list_generations" -> listGenerations(connection, message);
      case "unsubscribe" -> {
        java.util.List<String> ids = taskIds(connection, message, "unsubscribe");
        if (ids != null) {
          ids.forEach(connection.unfollows::tryEmitNext);
        }
        yield Mono.empty();
      }
      case "ping" -> {
        connection.reply(Map.of("type", "pong"));
        yield Mono.empty();
      }
      default -> {
        connection.reply(
            error(
                "UNKNOWN_MESSAGE_TYPE",
                "Unknown message type '"
                    + type
                    + "' (known: start_generation, start_batch, cancel_generation, subscribe,"
                    + " subscribe_batch, unsubscribe, list_generations, ping)",
                null,
                null));
        yield Mono.empty();
      }
    };
  }

  /** {@code authenticate {key}}: the socket acts for the key's project from now on. */
  private Mono<Void> authenticate(Connection connection, JsonNode message) {
    java.util.List<io.tempera.template.RequestProblem> unknown =
        StrictJson.unknownFields(message, FIELDS.get("authenticate"));
    JsonNode key = message.get("key");
    java.util.Optional<Caller> caller =
        unknown.isEmpty() && key != null && key.isTextual()
            ? keys.authenticate(key.textValue())
            : java.util.Optional.empty();
    if (caller.isEmpty()) {
      connection.refuse(
          error(
              "UNAUTHENTICATED",
              "The API key is not valid (unknown, revoked or mistyped)",
              null,
              null));
      return Mono.empty();
    }
    if (connection.caller != null && !connection.caller.equals(caller.get())) {
      connection.refuse(
          error(
              "UNAUTHENTICATED",
              "This socket is already authenticated with another key; open a new one",
              null,
              null));
      return Mono.empty();
    }
    if (connection.caller == null && !signIn(connection, caller.get())) {
      return Mono.empty();
    }
    Map<String, Object> reply = new LinkedHashMap<>();
    reply.put("type", "authenticated");
    reply.put("projectId", caller.get().projectId());
    reply.put("role", caller.get().role().wire());
    connection.reply(reply);
    return Mono.empty();
  }

  private Mono<Void> start(Connection connection, JsonNode message) {
    ApiMessages.StartGeneration body;
    try {
      body =
          StrictJson.startGeneration(
              message, FIELDS.get("start_generation"), Map.of("nodeType", "functionId"));
    } catch (ApiException e) {
      Map<String, Object> reply = error(e.code(), e.getMessage(), null, e.problems());
      putIfText(reply, message, "nodeId");
      putIfText(reply, message, "requestId");
      connection.reply(reply);
      return Mono.empty();
    }
    Caller caller = connection.caller;
    return Blocking.call(() -> generations.start(body, caller))
        .doOnNext(accepted -> {
          Map<String, Object> ack = new LinkedHashMap<>();
          ack.put("type", "task_acknowledged");
          ack.put("taskId", accepted.id());
          ack.put("nodeId", body.nodeId());
          if (body.requestId() != null) {
            ack.put("requestId", body.requestId());
          }
          ack.put("status", accepted.status().toLowerCase(java.util.Locale.ROOT));
          connection.reply(ack);
          connection.follow(accepted.id(), 0, true);
        })
        .onErrorResume(failure -> startFailed(connection, failure, "start_generation", body))
        .then();
  }

  /**
   * {@code start_batch {…}}: the body of {@code POST /api/batches}; answered {@code
   * batch_acknowledged {batchId, status, total, nodeId, requestId?}}, or an error with the REST
   * codes (and {@code retryAfterSeconds} for a quota). Its progress is read with {@code GET
   * /api/batches/{id}}; its generations can be followed with {@code subscribe} (their ids are in
   * that listing).
   */
  private Mono<Void> startBatch(Connection connection, JsonNode message) {
    ApiMessages.StartGeneration body;
    Integer count;
    java.util.Map<String, java.util.List<Object>> sweep;
    try {
      body = StrictJson.startGeneration(message, FIELDS.get("start_batch"), Map.of());
      count = BatchController.count(message.get("count"));
      sweep = BatchController.sweep(message.get("sweep"));
      BatchController.requireVariations(count, sweep);
      if (batches == null) {
        throw new ApiException(
            org.springframework.http.HttpStatus.UNPROCESSABLE_CONTENT,
            "BATCHES_UNAVAILABLE",
            "This server runs no batches");
      }
    } catch (ApiException e) {
      Map<String, Object> reply = error(e.code(), e.getMessage(), null, e.problems());
      putIfText(reply, message, "nodeId");
      putIfText(reply, message, "requestId");
      connection.reply(reply);
      return Mono.empty();
    }
    Caller caller = connection.caller;
    return Blocking.call(() -> batches.start(body, count, sweep, caller))
        .doOnNext(accepted -> {
          Map<String, Object> ack = new LinkedHashMap<>();
          ack.put("type", "batch_acknowledged");
          ack.put("batchId", accepted.id());
          ack.put("status", accepted.status().toLowerCase(java.util.Locale.ROOT));
          ack.put("total", accepted.total());
          ack.put("nodeId", body.nodeId());
          if (body.requestId() != null) {
            ack.put("requestId", body.requestId());
          }
          connection.reply(ack);
        })
        .onErrorResume(failure -> startFailed(connection, failure, "start_batch", body))
        .then();
  }

  /**
   * The answer to a start that failed: its error (a quota's {@code retryAfterSeconds} too) with the
   * start's nodeId and requestId; a failure that is no refusal is logged and said as {@code
   * DISPATCH_FAILED}.
   */
  private <T> Mono<T> startFailed(
      Connection connection, Throwable failure, String what, ApiMessages.StartGeneration body) {
    ApiException e;
    if (Blocking.translate(failure) instanceof ApiException api) {
      e = api;
    } else {
      log.warn("{} failed", what, failure);
      e =
          new ApiException(
              org.springframework.http.HttpStatus.INTERNAL_SERVER_ERROR,
              "DISPATCH_FAILED",
              what.equals("start_batch")
                  ? "The batch could not be started; try again"
                  : "The generation could not be started; try again");
    }
    Map<String, Object> reply = error(e.code(), e.getMessage(), null, e.problems());
    if (e.retryAfterSeconds() != null) {
      reply.put("retryAfterSeconds", e.retryAfterSeconds()); // a quota's, as Retry-After
    }
    reply.put("nodeId", body.nodeId());
    if (body.requestId() != null) {
      reply.put("requestId", body.requestId());
    }
    connection.reply(reply);
    return Mono.empty();
  }

  /**
   * {@code list_generations {nodeId, projectId?, status?, cursor?, limit?, subscribe?}}: a page of
   * the node's generations, newest first, as {@code generations {nodeId, items, nextCursor}} (the
   * items of GET /api/generations?node=…); with {@code subscribe: true} the listed ones that have
   * not ended are followed as a {@code subscribe} would.
   */
  private Mono<Void> listGenerations(Connection connection, JsonNode message) {
    String nodeId = textField(message, "nodeId");
    JsonNode subscribe = message.get("subscribe");
    JsonNode limit = message.get("limit");
    if (nodeId == null
        || (subscribe != null && !subscribe.isBoolean())
        || (limit != null && !limit.isIntegralNumber())) {
      connection.reply(
          error(
              "INVALID_MESSAGE",
              "list_generations needs a nodeId (text); limit is a whole number, subscribe true or"
                  + " false",
              null,
              null));
      return Mono.empty();
    }
    GenerationHistory.Query query =
        new GenerationHistory.Query(
            textField(message, "projectId"),
            textField(message, "status"),
            null,
            nodeId,
            null,
            textField(message, "cursor"),
            limit == null ? null : limit.asText());
    Caller caller = connection.caller;
    return Blocking.call(() -> history.list(query, caller))
        .doOnNext(page -> {
          Map<String, Object> reply = new LinkedHashMap<>();
          reply.put("type", "generations");
          reply.put("nodeId", nodeId);
          reply.put("items", page.items());
          reply.put("nextCursor", page.nextCursor());
          connection.reply(reply);
          if (subscribe != null && subscribe.booleanValue()) {
            page.items().stream()
                .filter(item -> Set.of("QUEUED", "RUNNING").contains(item.status()))
                .forEach(item -> connection.follow(item.id(), 0, true));
          }
        })
        .onErrorResume(e -> {
          if (!(Blocking.translate(e) instanceof ApiException api)) {
            return Mono.error(e);
          }
          Map<String, Object> reply = error(api.code(), api.getMessage(), null, api.problems());
          reply.put("nodeId", nodeId);
          connection.reply(reply);
          return Mono.empty();
        })
        .then();
  }

  /** A message's field when it is non-blank text, else null. */
  private static String textField(JsonNode message, String field) {
    JsonNode node = message.get(field);
    return node != null && node.isTextual() && !node.textValue().isBlank()
        ? node.textValue()
        : null;
  }

  private Mono<Void> cancel(Connection connection, JsonNode message) {
    JsonNode task = message.get("taskId");
    String taskId =
        task != null && task.isTextual() && !task.textValue().isBlank() ? task.textValue() : null;
    if (taskId == null) {
      connection.reply(error("INVALID_MESSAGE", "cancel_generation needs a taskId", null, null));
      return Mono.empty();
    }
    Caller caller = connection.caller;
    return Blocking.call(() -> generations.cancel(taskId, "cancelled from the canvas", caller))
        .doOnNext(view -> connection.follow(taskId, 0, true))
        .onErrorResume(e -> {
          if (!(Blocking.translate(e) instanceof ApiException api)) {
            return Mono.error(e);
          }
          connection.reply(error(api.code(), api.getMessage(), taskId, api.problems()));
          return Mono.empty();
        })
        .then();
  }

  private Mono<Void> subscribe(Connection connection, JsonNode message) {
    java.util.List<String> ids = taskIds(connection, message, "subscribe");
    if (ids == null) {
      return Mono.empty();
    }
    JsonNode lastEventIds = message.get("lastEventIds");
    if (lastEventIds != null && !lastEventIds.isNull() && !lastEventIds.isObject()) {
      connection.reply(
          error(
              "INVALID_MESSAGE",
              "lastEventIds must be an object of taskId to the last eventId seen",
              null,
              null));
      return Mono.empty();
    }
    for (String taskId : ids) {
      JsonNode last = lastEventIds == null ? null : lastEventIds.get(taskId);
      if (last != null && !last.isNull() && !(last.canConvertToLong() && last.asLong() >= 0)) {
        connection.reply(
            error(
                "INVALID_MESSAGE",
                "lastEventIds." + taskId + " must be a number >= 0",
                taskId,
                null));
        continue;
      }
      connection.follow(taskId, last == null ? 0 : last.asLong(0), false);
    }
    return Mono.empty();
  }

  /**
   * {@code subscribe_batch {batchId, lastEventId?}}: follows a batch's progress, {@code
   * batch_progress} each time its counts moved (read at most once a second), then {@code
   * batch_ended}; from after {@code lastEventId} when given (a resume after a reconnect).
   */
  private Mono<Void> subscribeBatch(Connection connection, JsonNode message) {
    JsonNode batchId = message.get("batchId");
    JsonNode last = message.get("lastEventId");
    if (batchId == null
        || !batchId.isTextual()
        || batchId.asText().isBlank()
        || (last != null && !last.isNull() && !(last.canConvertToLong() && last.asLong() >= 0))) {
      connection.reply(
          error(
              "INVALID_MESSAGE",
              "subscribe_batch needs a batchId (text); lastEventId is the last eventId seen,"
                  + " a number >= 0",
              null,
              null));
      return Mono.empty();
    }
    connection.followBatch(batchId.asText(), last == null ? 0 : last.asLong(0));
    return Mono.empty();
  }

  /** A batch's event as the socket sends it: {@code batch_progress}, or {@code batch_ended}. */
  static Map<String, Object> batchMessage(BatchMessages.Event event) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", BatchFeed.terminal(event) ? "batch_ended" : "batch_progress");
    m.put("batchId", event.batchId());
    m.put("eventId", event.eventId());
    m.put("status", event.status().toLowerCase(java.util.Locale.ROOT));
    m.put("progress", event.progress());
    if (event.quotaWait() != null) {
      m.put("quotaWait", event.quotaWait());
    }
    return m;
  }

  /** The key of a followed batch among a connection's followed tasks. */
  private static final String BATCH = "batch:";

  /**
   * The message's taskIds: a non-empty list of non-empty strings; else replies an error and returns
   * null.
   */
  private static java.util.List<String> taskIds(
      Connection connection, JsonNode message, String type) {
    JsonNode ids = message.get("taskIds");
    java.util.List<String> result = new java.util.ArrayList<>();
    if (ids != null && ids.isArray()) {
      for (JsonNode id : ids) {
        if (!id.isTextual() || id.asText().isBlank()) {
          result = null;
          break;
        }
        result.add(id.asText());
      }
    }
    if (ids == null || !ids.isArray() || result == null || result.isEmpty()) {
      connection.reply(
          error(
              "INVALID_MESSAGE", type + " needs a non-empty taskIds list of task ids", null, null));
      return null;
    }
    return result;
  }

  private String render(String taskId, GenerationFeed.Event event) {
    return write(
        switch (event) {
          case GenerationFeed.Snapshot s -> state(s.view());
          case GenerationFeed.Live l -> progress(taskId, l.event());
          case GenerationFeed.Final f -> terminal(f.view());
        });
  }

  private Map<String, Object> state(ApiMessages.Generation view) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", "task_state");
    m.put("taskId", view.id());
    m.put("state", view);
    return m;
  }

  private Map<String, Object> progress(String taskId, ProgressEvent e) {
    Map<String, Object> lead = new LinkedHashMap<>();
    lead.put("type", "task_progress");
    lead.put("taskId", taskId);
    lead.put("eventId", e.seq());
    return feed.progressFields(lead, e);
  }

  private static Map<String, Object> terminal(ApiMessages.Generation view) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("taskId", view.id());
    m.put("nodeId", view.nodeId());
    m.put("eventId", view.eventId());
    if ("SUCCEEDED".equals(view.status())) {
      m.put("type", "task_success");
      m.put("outputs", view.outputs());
      m.put("values", view.values());
      m.put("tierUsed", view.tierUsed());
      m.put("fallbacks", view.fallbacks());
      if (view.variant() != null) m.put("variant", view.variant());
      m.put("warnings", view.warnings());
    } else {
      m.put("type", "task_failed");
      ApiMessages.Failure error = view.error();
      m.put("code", error == null ? "INTERNAL" : error.code());
      m.put("message", error == null ? "The generation failed" : error.message());
      m.put("suggestion", error == null ? null : error.suggestion());
      m.put("action", error == null ? null : error.action());
      m.put("outputs", view.outputs());
      m.put("values", view.values());
    }
    return m;
  }

  private static Map<String, Object> error(
      String code, String message, String taskId, Object problems) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", "error");
    m.put("code", code);
    m.put("status", ApiErrorCode.statusOf(code)); // the HTTP status the REST route answers with
    m.put("message", message);
    if (taskId != null) m.put("taskId", taskId);
    if (problems instanceof java.util.List<?> list && !list.isEmpty()) m.put("problems", list);
    return m;
  }

  private String write(Object message) {
    try {
      return json.writeValueAsString(message);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a websocket message", e);
    }
  }

  /** Copies {@code field} into {@code reply} when the message has it as a string. */
  private static void putIfText(Map<String, Object> reply, JsonNode message, String field) {
    JsonNode node = message.get(field);
    if (node != null && node.isTextual()) {
      reply.put(field, node.textValue());
    }
  }

  /** One socket's state: the tasks it follows and its outgoing control replies. */
  /** Closes the socket once the error before it went out. */
  private record Refusal() {}

  private static final class Connection {
    /**
     * A task to follow, for {@code caller}; {@code checked} when the task is known to be the
     * caller's (it just started or cancelled it).
     */
    record Follow(String taskId, long lastSeen, Caller caller, boolean checked) {}

    final int maxFollowedTasks;
    final Runnable notReading;
    final double messagesPerSecond;

    /** Who the socket acts for; null until it authenticates. */
    volatile Caller caller;

    /** The connection its key holds (given back when the socket ends). */
    volatile io.tempera.security.ConnectionLimits.Held held;

    /** The messages it may still send now (a token bucket of twice the rate). */
    private double tokens;

    private long refilledAt = System.nanoTime();

    /** Whether one more message may be handled now. */
    synchronized boolean mayReceive() {
      long now = System.nanoTime();
      tokens =
          Math.min(2 * messagesPerSecond, tokens + (now - refilledAt) / 1e9 * messagesPerSecond);
      refilledAt = now;
      if (tokens < 1) {
        return false;
      }
      tokens -= 1;
      return true;
    }

    final Sinks.Many<Object> replies;

    Connection(
        int maxFollowedTasks, int maxPendingReplies, int messagesPerSecond, Runnable notReading) {
      this.maxFollowedTasks = maxFollowedTasks;
      this.notReading = notReading;
      this.messagesPerSecond = Math.max(1, messagesPerSecond);
      this.tokens = 2 * this.messagesPerSecond;
      this.replies =
          Sinks.many()
              .unicast()
              .onBackpressureBuffer(
                  reactor.util.concurrent.Queues.<Object>get(Math.max(16, maxPendingReplies))
                      .get());
    }

    final Sinks.Many<Follow> follows = Sinks.many().unicast().onBackpressureBuffer();

    /** The batches to follow (a Follow of the batch's id), counted among the followed tasks. */
    final Sinks.Many<Follow> batchFollows = Sinks.many().unicast().onBackpressureBuffer();

    final Sinks.Many<String> unfollows = Sinks.many().multicast().directBestEffort();
    final Set<String> followed = ConcurrentHashMap.newKeySet();

    synchronized void reply(Object message) {
      if (replies.tryEmitNext(message) == Sinks.EmitResult.FAIL_OVERFLOW) {
        notReading.run();
      }
    }

    /** Replies {@code error} and closes the socket. */
    synchronized void refuse(Object error) {
      if (replies.tryEmitNext(error) == Sinks.EmitResult.FAIL_OVERFLOW
          || replies.tryEmitNext(new Refusal()) == Sinks.EmitResult.FAIL_OVERFLOW) {
        notReading.run();
      }
    }

    synchronized void follow(String taskId, long lastSeen, boolean checked) {
      if (followed.contains(taskId)) {
        return;
      }
      if (followed.size() >= maxFollowedTasks) {
        reply(
            error(
                "TOO_MANY_TASKS",
                "A connection follows at most " + maxFollowedTasks + " tasks",
                taskId,
                null));
      } else if (followed.add(taskId)) {
        follows.tryEmitNext(new Follow(taskId, lastSeen, caller, checked));
      }
    }

    synchronized void followBatch(String batchId, long lastSeen) {
      if (followed.contains(BATCH + batchId)) {
        return;
      }
      if (followed.size() >= maxFollowedTasks) {
        Map<String, Object> refused =
            error(
                "TOO_MANY_TASKS",
                "A connection follows at most " + maxFollowedTasks + " tasks and batches",
                null,
                null);
        refused.put("batchId", batchId);
        reply(refused);
      } else if (followed.add(BATCH + batchId)) {
        batchFollows.tryEmitNext(new Follow(batchId, lastSeen, caller, false));
      }
    }

    synchronized void close() {
      follows.tryEmitComplete();
      batchFollows.tryEmitComplete();
      replies.tryEmitComplete();
      if (held != null) {
        held.close();
      }
    }
  }

  /** A REST body's fields, and the message's {@code type}. */
  private static Set<String> withType(Set<String> fields) {
    Set<String> all = new java.util.HashSet<>(fields);
    all.add("type");
    return Set.copyOf(all);
  }
}
