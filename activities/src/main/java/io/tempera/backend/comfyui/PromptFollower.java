package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.BackendHttp;
import io.tempera.backend.comfyui.ComfyUiException.Kind;
import java.io.ByteArrayOutputStream;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows one prompt on the ComfyUI WebSocket of its client_id, turning events into progress, until
 * a terminal event; then /history gives the authoritative result. When the socket is quiet it polls
 * /history and /queue, and when it drops it reconnects with the same client_id.
 */
final class PromptFollower implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PromptFollower.class);
  private static final int MAX_UNKNOWN_POLLS = 5;
  private static final long QUEUED_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  private final ComfyUiClient client;
  private final ObjectNode graph;
  private final String clientId;
  private final ProgressListener listener;
  private final ServerWait wait;

  /**
   * The server's id of the prompt followed; null until {@link #follow} names it (the socket is open
   * before the prompt is submitted, and the server may assign its own id).
   */
  private volatile String promptId;

  /** The class of the node that sends its images over the WebSocket as the prompt's outputs. */
  static final String SAVE_IMAGE_WEBSOCKET = "SaveImageWebsocket";

  /** The images SaveImageWebsocket nodes sent, spooled to local files ({@link OutputFile}s). */
  private final List<OutputFile> websocketOutputs = new ArrayList<>();

  /** Messages for some prompt that came before the id was known, replayed once it is. */
  private final List<Object> early = new ArrayList<>();

  private static final int EARLY_LIMIT = 10_000;
  private final CompletableFuture<String> terminal = new CompletableFuture<>();
  private volatile CompletableFuture<Void> closed = new CompletableFuture<>();
  private volatile WebSocket socket;

  /**
   * Set once the prompt starts executing; until then the queue is polled often for its position.
   */
  private volatile boolean started;

  // progress state, touched only by the socket's listener thread
  private final Set<String> done = new HashSet<>();
  private int cached;
  private String current;

  /** The running node's latest step and step count (null before its first step). */
  private Integer step;

  private Integer steps;
  private double inner;

  PromptFollower(
      ComfyUiClient client,
      ObjectNode graph,
      String clientId,
      ProgressListener listener,
      ServerWait wait) {
    this.client = client;
    this.graph = graph;
    this.clientId = clientId;
    this.listener = listener;
    this.wait = wait;
    wait.tell(this::serverDown);
  }

  /** Tells the listener that the run waits for the server, at the progress it had. */
  private void serverDown() {
    emit(
        new ProgressUpdate(
            ProgressUpdate.Stage.SERVER_DOWN,
            0,
            current,
            classType(current),
            step,
            steps,
            null,
            null,
            null));
  }

  /**
   * Names the prompt to follow (the server's id for it): the messages for it that came before are
   * taken now, in order.
   */
  void follow(String serverPromptId) {
    synchronized (this) {
      promptId = serverPromptId;
      List<Object> before = List.copyOf(early);
      early.clear();
      for (Object message : before) {
        if (message instanceof String text) {
          onText(text);
        } else {
          onBinary((byte[]) message);
        }
      }
    }
  }

  /**
   * Whether a message for {@code forPrompt} is ours; one that came before the id was known is kept
   * for {@link #follow}.
   */
  private boolean ours(String forPrompt, Object message) {
    String id = promptId;
    if (id == null) {
      // every message waits, those without a prompt id too (binary frames have none): replayed in
      // order, an image frame meets the node that sent it (a fast prompt runs before its submit
      // is answered)
      if (early.size() < EARLY_LIMIT) {
        early.add(message);
        return false;
      }
      return forPrompt == null;
    }
    return forPrompt == null || forPrompt.equals(id);
  }

  void connect() {
    CompletableFuture<Void> closedSignal = new CompletableFuture<>();
    try {
      socket =
          client
              .http()
              .newWebSocketBuilder()
              .connectTimeout(client.options().connectTimeout())
              .buildAsync(client.webSocketUri(clientId), new Listener(closedSignal))
              .get(client.options().connectTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
      closed = closedSignal;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComfyUiException(
          Kind.ABORTED, "interrupted while opening the ComfyUI WebSocket", null, null, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new ComfyUiException(
          Kind.UNREACHABLE, "cannot open the ComfyUI WebSocket: " + e.getMessage(), null, null, e);
    }
  }

  /** Waits for the prompt's end (or the deadline), then reads its result from /history. */
  PromptResult await(long deadlineNanos) {
    QueueStatus initial = wait.through(() -> client.queueStatus(promptId));
    if (initial.pending() && !started) {
      queued(initial.position());
    }
    int unknownPolls = 0;
    long backoffMillis = 100;
    while (true) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) {
        throw new ComfyUiException(
            Kind.TIMEOUT,
            "prompt " + promptId + " did not finish within " + client.options().runTimeout());
      }
      long poll =
          started
              ? client.options().wsIdlePoll().toNanos()
              : Math.min(client.options().wsIdlePoll().toNanos(), QUEUED_POLL_NANOS);
      long quietFor = Math.min(left, poll);
      try {
        terminal.get(quietFor, TimeUnit.NANOSECONDS);
        return withWebsocketOutputs(historyAfterTerminal(deadlineNanos));
      } catch (TimeoutException quiet) {
        // poll below
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ComfyUiException(
            Kind.ABORTED, "interrupted while following prompt " + promptId, null, null, e);
      } catch (ExecutionException e) {
        throw new IllegalStateException("the terminal signal never fails", e);
      }
      // the queue first, then the history: a prompt finishing between the two is still seen
      QueueStatus queue = wait.through(() -> client.queueStatus(promptId));
      if (!queue.known()) {
        Optional<PromptResult> finished = wait.through(() -> client.history(promptId));
        if (finished.isPresent()) {
          awaitImagesInFlight();
          return withWebsocketOutputs(finished.get());
        }
      }
      if (queue.pending() && !started) {
        queued(queue.position());
      }
      if (queue.known()) {
        unknownPolls = 0;
      } else if (wait.wentDown() || ++unknownPolls >= MAX_UNKNOWN_POLLS) {
        throw new ComfyUiException(
            Kind.SERVER_ERROR,
            wait.wentDown()
                // no promise of another try: this may be the last attempt's message
                ? "it restarted and lost the run"
                : "it lost the run (neither queued, running nor in its history)");
      }
      if (closed.isDone()) {
        try {
          Thread.sleep(backoffMillis);
          backoffMillis = Math.min(backoffMillis * 2, 5_000);
          log.info("ComfyUI WebSocket for prompt {} dropped; reconnecting", promptId);
          connect();
          backoffMillis = 100;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ComfyUiException(Kind.ABORTED, "interrupted while reconnecting", null, null, e);
        } catch (ComfyUiException e) {
          if (e.kind() == Kind.ABORTED) {
            throw e;
          }
          log.debug("reconnecting the ComfyUI WebSocket failed: {}", e.getMessage());
        }
      }
    }
  }

  /**
   * Found finished by polling, before its terminal event came: when the graph sends images over the
   * socket, the frames still on their way are waited for (until the terminal event, which comes
   * after them, at most 2 s).
   */
  private void awaitImagesInFlight() {
    boolean sendsImages = false;
    for (JsonNode node : graph) {
      sendsImages |= SAVE_IMAGE_WEBSOCKET.equals(node.path("class_type").asText());
    }
    if (!sendsImages || closed.isDone()) {
      return;
    }
    try {
      terminal.get(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComfyUiException(
          Kind.ABORTED, "interrupted while collecting images", null, null, e);
    } catch (ExecutionException | TimeoutException e) {
      log.debug("prompt {}: no terminal event within 2 s after its history", promptId);
    }
  }

  /** The result with the images SaveImageWebsocket nodes sent (the history does not list them). */
  private synchronized PromptResult withWebsocketOutputs(PromptResult result) {
    return websocketOutputs.isEmpty() ? result : result.withMoreOutputs(websocketOutputs);
  }

  /**
   * ComfyUI writes the history entry just after the terminal event (testkit/FIDELITY.md): a few
   * short retries wait for it.
   */
  private PromptResult historyAfterTerminal(long deadlineNanos) {
    for (int attempt = 0; ; attempt++) {
      Optional<PromptResult> finished = wait.through(() -> client.history(promptId));
      if (finished.isPresent()) {
        return finished.get();
      }
      if (attempt >= 20 || System.nanoTime() > deadlineNanos) {
        throw new ComfyUiException(
            Kind.PROTOCOL,
            "prompt "
                + promptId
                + " ended ("
                + terminal.getNow("?")
                + ") but /history has no entry for it");
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ComfyUiException(
            Kind.ABORTED, "interrupted while reading the history", null, null, e);
      }
    }
  }

  @Override
  public void close() {
    WebSocket ws = socket;
    if (ws != null) {
      ws.abort();
    }
  }

  private synchronized void onText(String text) {
    JsonNode message;
    try {
      message = client.json().readTree(text);
    } catch (Exception e) {
      log.debug("ignoring a malformed WebSocket message: {}", BackendHttp.abbreviate(text));
      return;
    }
    String type = message.path("type").asText();
    JsonNode data = message.path("data");
    String forPrompt = data.path("prompt_id").asText(null);
    if (!ours(forPrompt, text)) {
      return;
    }
    switch (type) {
      case "execution_start" -> {
        started = true;
        emit(update(ProgressUpdate.Stage.STARTED, null, null, null));
      }
      case "execution_cached" -> {
        cached = data.path("nodes").size();
        emit(update(ProgressUpdate.Stage.STARTED, null, null, null));
      }
      case "executing" -> {
        JsonNode node = data.path("node");
        if (current != null) {
          done.add(current);
        }
        inner = 0;
        if (node.isNull() || node.isMissingNode()) {
          if (forPrompt != null) {
            current = null;
            terminal.complete(type);
          }
        } else {
          started = true;
          current = node.asText();
          step = null;
          steps = null;
          emit(update(ProgressUpdate.Stage.NODE_STARTED, current, null, null));
        }
      }
      case "progress" -> {
        int value = data.path("value").asInt();
        int max = Math.max(1, data.path("max").asInt(1));
        inner = Math.min(1.0, (double) value / max);
        step = value;
        steps = max;
        emit(update(ProgressUpdate.Stage.STEP, data.path("node").asText(current), value, max));
      }
      case "executed" -> {
        String node = data.path("node").asText(null);
        if (node != null) {
          done.add(node);
        }
        emit(update(ProgressUpdate.Stage.NODE_FINISHED, node, null, null));
      }
      case "execution_success", "execution_error", "execution_interrupted" ->
          terminal.complete(type);
      default -> {
        // status, progress_state, feature_flags and unknown types carry nothing we need
      }
    }
  }

  private synchronized void onBinary(byte[] frame) {
    if (frame.length < 8) {
      return;
    }
    ByteBuffer buffer = ByteBuffer.wrap(frame);
    int event = buffer.getInt();
    String contentType;
    if (event == 1) {
      contentType = buffer.getInt() == 2 ? "image/png" : "image/jpeg";
    } else if (event == 4) {
      int metadataLength = buffer.getInt();
      if (metadataLength < 0 || metadataLength > buffer.remaining()) {
        return;
      }
      byte[] metadata = new byte[metadataLength];
      buffer.get(metadata);
      String forPrompt = readOrNull(metadata).path("prompt_id").asText(null);
      if (!ours(forPrompt, frame)) {
        return;
      }
      contentType = readOrNull(metadata).path("image_type").asText("image/png");
    } else {
      return;
    }
    byte[] image = new byte[buffer.remaining()];
    buffer.get(image);
    if (SAVE_IMAGE_WEBSOCKET.equals(classType(current)) && promptId != null) {
      // not a preview: a SaveImageWebsocket node sends its outputs this way, and nowhere else
      websocketOutputs.add(client.spoolWebsocketImage(promptId, current, image, contentType));
      return;
    }
    // a preview belongs to the node's latest step: the step count stays (no flicker in the state)
    emit(
        new ProgressUpdate(
            ProgressUpdate.Stage.PREVIEW,
            fraction(),
            current,
            classType(current),
            step,
            steps,
            null,
            contentType,
            image));
  }

  private JsonNode readOrNull(byte[] json) {
    try {
      return client.json().readTree(json);
    } catch (java.io.IOException e) {
      return client.json().createObjectNode();
    }
  }

  private ProgressUpdate update(
      ProgressUpdate.Stage stage, String node, Integer step, Integer total) {
    return new ProgressUpdate(
        stage, fraction(), node, classType(node), step, total, null, null, null);
  }

  private double fraction() {
    int total = Math.max(1, graph.size());
    double value = (Math.min(total, cached + done.size()) + (current == null ? 0 : inner)) / total;
    return Math.min(0.99, value);
  }

  private String classType(String node) {
    return node == null ? null : graph.path(node).path("class_type").asText(null);
  }

  /** The last queue position told (null: none yet): a position is told once, when it changes. */
  private Integer toldPosition;

  /** The highest fraction told: progress never moves backwards within a run. */
  private double toldFraction;

  private synchronized void queued(int position) {
    if (Integer.valueOf(position).equals(toldPosition)) {
      return;
    }
    toldPosition = position;
    emit(
        new ProgressUpdate(
            ProgressUpdate.Stage.QUEUED, 0, null, null, null, null, position, null, null));
  }

  private synchronized void emit(ProgressUpdate update) {
    if (update.fraction() < toldFraction) {
      update =
          new ProgressUpdate(
              update.stage(),
              toldFraction,
              update.nodeId(),
              update.classType(),
              update.step(),
              update.totalSteps(),
              update.queuePosition(),
              update.previewContentType(),
              update.previewBytes());
    }
    toldFraction = update.fraction();
    try {
      listener.onUpdate(update);
    } catch (RuntimeException e) {
      log.warn("progress listener failed", e);
    }
  }

  /** Reassembles fragmented frames and hands whole messages to the follower. */
  private final class Listener implements WebSocket.Listener {
    private final CompletableFuture<Void> closedSignal;
    private final StringBuilder text = new StringBuilder();
    private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

    Listener(CompletableFuture<Void> closedSignal) {
      this.closedSignal = closedSignal;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        String message = text.toString();
        text.setLength(0);
        PromptFollower.this.onText(message);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      binary.writeBytes(chunk);
      if (last) {
        byte[] frame = binary.toByteArray();
        binary.reset();
        PromptFollower.this.onBinary(frame);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closedSignal.complete(null);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      log.debug("ComfyUI WebSocket error: {}", error.toString());
      closedSignal.complete(null);
    }
  }
}
