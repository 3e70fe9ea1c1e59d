package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.testkit.comfyui.PromptGraph.NodeOutcome;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Executes the queued prompts one at a time on its own thread, as ComfyUI's executor does: the
 * nodes the outputs need in dependency order, nodes of an identical resubmission from the cache,
 * /ws events in the real order and shapes, an entry in the history for each prompt, and the faults
 * of {@link FaultInjector} (a dropped socket, a CUDA out-of-memory error).
 */
final class PromptExecutor {

  /** The server's parts log as the server. */
  private static final Logger log = LoggerFactory.getLogger(ComfyUiTestServer.class);

  private final ComfyJson json;
  private final PromptQueue queue;
  private final WebSocketHub sockets;
  private final FileStore files;
  private final NodeLibrary library;
  private final FaultInjector faults;
  private final List<ComfyUiTestServer.Execution> executions = new ArrayList<>();

  /** Outputs of the last prompt's nodes by cache key: identical resubmissions are fully cached. */
  private Map<String, NodeOutcome> cache = Map.of();

  private Thread thread;

  /** The running prompt and its extra_pnginfo (the hidden inputs), on the executor thread. */
  private JsonNode currentPrompt;

  private JsonNode currentExtraPngInfo;

  /** Time spent executing prompts (what a GPU would be busy with), in nanoseconds. */
  private final java.util.concurrent.atomic.AtomicLong executingNanos =
      new java.util.concurrent.atomic.AtomicLong();

  PromptExecutor(
      ComfyJson json,
      PromptQueue queue,
      WebSocketHub sockets,
      FileStore files,
      NodeLibrary library,
      FaultInjector faults) {
    this.json = json;
    this.queue = queue;
    this.sockets = sockets;
    this.files = files;
    this.library = library;
    this.faults = faults;
  }

  /** Starts the executor thread. */
  PromptExecutor start() {
    thread = Thread.ofPlatform().name("comfyui-testkit-executor").daemon().start(this::executeLoop);
    return this;
  }

  /** Interrupts the running prompt and the thread (after {@link PromptQueue#stop()}). */
  void interrupt() {
    queue.interruptRunning();
    thread.interrupt();
  }

  /** The time spent executing prompts so far, in nanoseconds. */
  long executingNanos() {
    return executingNanos.get();
  }

  /** Every execution started, in order. */
  List<ComfyUiTestServer.Execution> executions() {
    synchronized (executions) {
      return List.copyOf(executions);
    }
  }

  private void executeLoop() {
    while (!queue.stopped()) {
      QueuedPrompt job = queue.next();
      if (job == null) {
        return;
      }
      long began = System.nanoTime();
      ObjectNode entry = null;
      try {
        entry = execute(job);
      } catch (RuntimeException | Error e) {
        // whatever went wrong outside a node, the prompt ends with an execution_error and the
        // executor stays alive for the next one
        log.error("testkit executor failed on prompt {}", job.promptId(), e);
        entry = failedOutsideNodes(job, e);
      } finally {
        // the terminal event went out; now the history entry, then the status (task_done)
        try {
          queue.finished(job.promptId(), entry);
        } catch (RuntimeException | Error e) {
          log.error("testkit executor could not finish prompt {}", job.promptId(), e);
        }
        executingNanos.addAndGet(System.nanoTime() - began);
      }
      if (!queue.stopped()) {
        try {
          ObjectNode done = json.object();
          done.put("type", "executing");
          done.putObject("data").putNull("node").put("prompt_id", job.promptId());
          sockets.sendTo(job, done);
        } catch (RuntimeException | Error e) {
          log.error("testkit executor could not tell the end of prompt {}", job.promptId(), e);
        }
      }
    }
  }

  /** Runs the prompt; its history entry (null when the process is going away). */
  private ObjectNode execute(QueuedPrompt job) {
    String promptId = job.promptId();
    synchronized (executions) {
      executions.add(new ComfyUiTestServer.Execution(promptId, job.prompt().deepCopy()));
    }
    library.retainNodes(job.prompt());
    currentPrompt = job.prompt();
    currentExtraPngInfo = job.extraData().get("extra_pnginfo");
    List<ArrayNode> messages = new ArrayList<>();
    sendEvent(job, "execution_start", json.data(promptId), messages);
    List<String> order = PromptGraph.executionOrder(job.prompt(), job.outputs());
    Map<String, String> keys = PromptGraph.cacheKeys(job.prompt(), order, files.inputDir);
    List<String> cachedNodes = new ArrayList<>();
    job.prompt()
        .fieldNames()
        .forEachRemaining(id -> {
          if (keys.containsKey(id) && cache.containsKey(keys.get(id))) {
            cachedNodes.add(id);
          }
        });
    List<String> runOrder =
        PromptGraph.runOrder(
            job.prompt(),
            job.outputs(),
            java.util.Set.copyOf(cachedNodes),
            id -> library.get(job.prompt().path(id).path("class_type").asText()).outputNode());
    ObjectNode cachedData = json.data(promptId);
    cachedData.set("nodes", json.tree(cachedNodes));
    sendEvent(job, "execution_cached", cachedData, messages);

    Map<String, NodeOutcome> results = new HashMap<>();
    ObjectNode outputs = json.object();
    String fault = faults.draw(null, "websocket_drop", "out_of_memory");
    List<String> executed = new ArrayList<>(); // this run's, not the cached ones
    for (String id : cachedNodes) {
      NodeOutcome outcome = cache.get(keys.get(id));
      results.put(id, outcome);
      if (outcome.ui() != null) {
        outputs.set(id, json.tree(outcome.ui()));
        sendExecuted(job, id, outcome.ui());
      }
    }
    try {
      for (String id : runOrder) {
        if (results.containsKey(id)) {
          continue;
        }
        if (queue.interruptRequested()) {
          return interrupted(job, id, executed, messages, outputs);
        }
        JsonNode node = job.prompt().get(id);
        NodeLibrary.Spec spec = library.get(node.path("class_type").asText());
        queue.runningNode(id);
        sendProgressState(job, id, "running", 0, 1);
        ObjectNode executing = json.data(promptId);
        executing.put("node", id).put("display_node", id);
        executing.remove("timestamp");
        sockets.sendTo(job, json.message("executing", executing));
        if ("out_of_memory".equals(fault)) {
          return failed(
              job,
              id,
              spec.classType(),
              "torch.OutOfMemoryError",
              "Allocation on device \nThis error means you ran out of memory on your GPU.",
              executed,
              messages,
              outputs,
              inputsSummary(node, spec, results));
        }
        if ("websocket_drop".equals(fault)) {
          fault = null;
          sockets.drop(job);
        }
        try {
          Map<String, Object> inputs =
              PromptGraph.resolveInputs(node.path("inputs"), spec, results);
          NodeOutcome outcome = runNode(job, id, spec, inputs);
          results.put(id, outcome);
          executed.add(id);
          sendProgressState(job, id, "finished", 1, 1);
          if (outcome.ui() != null) {
            outputs.set(id, json.tree(outcome.ui()));
            sendExecuted(job, id, outcome.ui());
          }
        } catch (InterruptedException e) {
          return interrupted(job, id, executed, messages, outputs);
        } catch (NodeLibrary.NodeException e) {
          return failed(
              job,
              id,
              spec.classType(),
              e.type,
              e.getMessage(),
              executed,
              messages,
              outputs,
              inputsSummary(node, spec, results));
        } catch (Exception | Error e) {
          // an Error too (an OutOfMemoryError decoding a huge image): the prompt fails with an
          // execution_error and the executor goes on with the next one
          if (e instanceof Error && !(e instanceof VirtualMachineError)) {
            log.warn("testkit node {} failed on prompt {}", id, promptId, e);
          }
          return failed(
              job,
              id,
              spec.classType(),
              e.getClass().getSimpleName(),
              String.valueOf(e.getMessage()),
              executed,
              messages,
              outputs,
              inputsSummary(node, spec, results));
        }
      }
    } finally {
      // what ran stays cached, failed or not (ComfyUI caches each node's outputs as it runs); the
      // cache keeps the nodes of the last prompt only
      Map<String, NodeOutcome> nextCache = new HashMap<>();
      order.forEach(id -> {
        if (results.get(id) != null) {
          nextCache.put(keys.get(id), results.get(id));
        }
      });
      cache = nextCache;
    }
    ObjectNode success = json.data(promptId);
    sockets.sendTo(job, json.message("execution_success", success));
    return historyEntry(
        job, "success", true, statusMessages(messages, "execution_success", success), outputs);
  }

  private NodeOutcome runNode(
      QueuedPrompt job, String id, NodeLibrary.Spec spec, Map<String, Object> inputs)
      throws Exception {
    NodeLibrary.Context context =
        new NodeLibrary.Context() {
          @Override
          public Path inputDir() {
            return files.inputDir;
          }

          @Override
          public Path outputDir() {
            return files.outputDir;
          }

          @Override
          public Path tempDir() {
            return files.tempDir;
          }

          @Override
          public String nodeId() {
            return id;
          }

          @Override
          public JsonNode prompt() {
            return job.prompt();
          }

          @Override
          public JsonNode extraPngInfo() {
            JsonNode info = job.extraData().get("extra_pnginfo");
            return info == null || info.isNull() ? null : info;
          }

          @Override
          public void progress(int value, int max) throws InterruptedException {
            checkInterrupted(); // ComfyUI's progress hook raises on an interrupt first
            ObjectNode data = json.object();
            data.put("value", value)
                .put("max", max)
                .put("prompt_id", job.promptId())
                .put("node", id);
            sockets.sendTo(job, json.message("progress", data));
            sendProgressState(job, id, "running", value, max);
          }

          @Override
          public void checkInterrupted() throws InterruptedException {
            if (queue.interruptRequested() || queue.stopped()) {
              throw new InterruptedException("interrupted");
            }
          }

          @Override
          public void sendImage(FloatImage image) throws IOException {
            sockets.sendPreview(job, id, Png.encode(image, Map.of(), 1));
          }
        };
    NodeLibrary.Result result = spec.work().run(inputs, context);
    return new NodeOutcome(result.outputs(), result.ui());
  }

  /** The history entry of a prompt that failed outside its nodes (null if even that fails). */
  private ObjectNode failedOutsideNodes(QueuedPrompt job, Throwable e) {
    if (queue.stopped()) {
      return null;
    }
    try {
      return failed(
          job,
          null,
          null,
          e.getClass().getSimpleName(),
          String.valueOf(e.getMessage()),
          List.of(),
          new ArrayList<>(),
          json.object(),
          json.object());
    } catch (RuntimeException | Error again) {
      log.error("testkit executor could not record the failure of {}", job.promptId(), again);
      return null;
    }
  }

  private ObjectNode interrupted(
      QueuedPrompt job,
      String nodeId,
      List<String> executed,
      List<ArrayNode> messages,
      ObjectNode outputs) {
    if (queue.stopped()) {
      return null; // the process is going away: it records and sends nothing more
    }
    ObjectNode data = json.data(job.promptId());
    data.put("node_id", nodeId);
    data.put("node_type", job.prompt().path(nodeId).path("class_type").asText());
    data.set("executed", json.tree(executed));
    sockets.sendTo(job, json.message("execution_interrupted", data));
    return historyEntry(
        job, "error", false, statusMessages(messages, "execution_interrupted", data), outputs);
  }

  private ObjectNode failed(
      QueuedPrompt job,
      String nodeId,
      String nodeType,
      String exceptionType,
      String exceptionMessage,
      List<String> executed,
      List<ArrayNode> messages,
      ObjectNode outputs,
      ObjectNode currentInputs) {
    ObjectNode data = json.data(job.promptId());
    data.put("node_id", nodeId);
    data.put("node_type", nodeType);
    data.set("executed", json.tree(executed));
    data.put("exception_message", exceptionMessage);
    data.put("exception_type", exceptionType);
    ArrayNode traceback = data.putArray("traceback");
    traceback.add(
        "  File \"/ComfyUI/execution.py\", line 496, in execute\n    output_data, output_ui, has_subgraph = get_output_data(...)\n");
    traceback.add("  File \"/ComfyUI/nodes.py\", in " + nodeType + "\n");
    data.set("current_inputs", currentInputs);
    data.set("current_outputs", json.tree(executed));
    sockets.sendTo(job, json.message("execution_error", data));
    return historyEntry(
        job, "error", false, statusMessages(messages, "execution_error", data), outputs);
  }

  /** The history entry's status messages: those sent so far and the final one. */
  private ArrayNode statusMessages(
      List<ArrayNode> messages, String finalType, ObjectNode finalData) {
    ArrayNode entryMessages = json.array();
    messages.forEach(entryMessages::add);
    entryMessages.add(json.array().add(finalType).add(finalData));
    return entryMessages;
  }

  private ObjectNode historyEntry(
      QueuedPrompt job,
      String statusStr,
      boolean completed,
      ArrayNode statusMessages,
      ObjectNode outputs) {
    ObjectNode entry = json.object();
    entry.set("prompt", json.queueItem(job));
    entry.set("outputs", outputs);
    ObjectNode status = entry.putObject("status");
    status.put("status_str", statusStr);
    status.put("completed", completed);
    status.set("messages", statusMessages);
    ObjectNode meta = entry.putObject("meta");
    outputs
        .fieldNames()
        .forEachRemaining(id ->
            meta.putObject(id)
                .put("node_id", id)
                .put("display_node", id)
                .putNull("parent_node")
                .put("real_node_id", id));
    return entry;
  }

  /**
   * execution_error's current_inputs: each input as a one-item list — literals as they are, a
   * linked image as a string (the real server writes the tensor's printout, which is not modelled),
   * and the hidden inputs (the prompt as Python prints a dict, extra_pnginfo).
   */
  private ObjectNode inputsSummary(
      JsonNode node, NodeLibrary.Spec spec, Map<String, NodeOutcome> results) {
    ObjectNode summary = json.object();
    node.path("inputs")
        .fields()
        .forEachRemaining(e -> {
          JsonNode value = e.getValue();
          if (!value.isArray()) {
            summary.putArray(e.getKey()).add(value);
          } else if (results.containsKey(value.get(0).asText())) {
            summary.putArray(e.getKey()).add(tensorText(results.get(value.get(0).asText()), value));
          }
        });
    spec.hidden()
        .forEach((name, kind) -> {
          JsonNode value =
              kind.equals("PROMPT")
                  ? currentPrompt
                  : kind.equals("EXTRA_PNGINFO") ? currentExtraPngInfo : null;
          if (value == null || value.isNull()) {
            summary.putArray(name).addNull();
          } else {
            summary.putArray(name).add(PyJson.str(value));
          }
        });
    return summary;
  }

  /** A stand-in for torch's printout of a linked input: {@code tensor(...)} with its shape. */
  private static String tensorText(NodeOutcome source, JsonNode link) {
    Object output = source.outputs().get(link.get(1).asInt());
    if (output instanceof List<?> batch
        && !batch.isEmpty()
        && batch.get(0) instanceof FloatImage f) {
      return "tensor(<"
          + (f.channels() == 1
              ? batch.size() + ", " + f.height() + ", " + f.width()
              : batch.size() + ", " + f.height() + ", " + f.width() + ", " + f.channels())
          + " float32, not printed by the testkit>)";
    }
    return String.valueOf(output);
  }

  private void sendExecuted(QueuedPrompt job, String id, Map<String, Object> ui) {
    ObjectNode data = json.object();
    data.put("node", id).put("display_node", id);
    data.set("output", json.tree(ui));
    data.put("prompt_id", job.promptId());
    sockets.sendTo(job, json.message("executed", data));
  }

  private void sendProgressState(QueuedPrompt job, String id, String state, int value, int max) {
    ObjectNode data = json.object();
    data.put("prompt_id", job.promptId());
    ObjectNode node = data.putObject("nodes").putObject(id);
    node.put("value", value)
        .put("max", max)
        .put("state", state)
        .put("node_id", id)
        .put("prompt_id", job.promptId())
        .put("display_node_id", id)
        .putNull("parent_node_id");
    node.put("real_node_id", id);
    sockets.sendTo(job, json.message("progress_state", data));
  }

  private void sendEvent(
      QueuedPrompt job, String type, ObjectNode data, List<ArrayNode> historyMessages) {
    historyMessages.add(json.array().add(type).add(data));
    sockets.sendTo(job, json.message(type, data));
  }
}
