package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * ComfyUI's queue and history: pending prompts by number, the one running (and its node), an
 * interrupt request for it, and the history of finished prompts (the newest {@value #MAX_HISTORY}).
 */
final class PromptQueue {

  private static final int MAX_HISTORY = 10_000;

  private final ComfyJson json;
  private final Object lock = new Object();
  private final PriorityQueue<QueuedPrompt> pending =
      new PriorityQueue<>(Comparator.comparingDouble(QueuedPrompt::number));
  private final Map<String, ObjectNode> history = new LinkedHashMap<>();
  private final List<String> accepted = new CopyOnWriteArrayList<>();
  private double counter;
  private QueuedPrompt running;
  private volatile String runningNode;
  private volatile boolean interruptRequested;
  private volatile boolean stopped;
  private Runnable onChange = () -> {};

  PromptQueue(ComfyJson json) {
    this.json = json;
  }

  /**
   * What runs (under the queue's lock, so before anything the change leads to) when a prompt is
   * queued, taken to run, or finished: ComfyUI's {@code queue_updated}, the /ws status broadcast.
   */
  void onChange(Runnable listener) {
    onChange = listener;
  }

  /**
   * Queues a validated prompt under the number the request asks for ({@code number}, else the front
   * with {@code front}, else the back); returns that number.
   */
  double enqueue(
      JsonNode request,
      String promptId,
      ObjectNode prompt,
      ObjectNode extraData,
      List<String> outputs) {
    synchronized (lock) {
      double number;
      if (request.path("number").isNumber()) {
        number = request.get("number").asDouble();
      } else if (request.path("front").asBoolean(false)) {
        number = -counter;
      } else {
        number = counter;
      }
      counter++;
      pending.add(new QueuedPrompt(number, promptId, prompt, extraData, outputs));
      accepted.add(promptId);
      onChange.run();
      lock.notifyAll();
      return number;
    }
  }

  /** The ids of every prompt accepted, in order. */
  List<String> accepted() {
    return accepted;
  }

  /** POST /queue: {@code clear} empties the pending prompts, {@code delete} removes some. */
  void delete(JsonNode request) {
    synchronized (lock) {
      if (request.path("clear").asBoolean(false)) {
        pending.clear();
      }
      for (JsonNode id : request.path("delete")) {
        pending.removeIf(job -> job.promptId().equals(id.asText()));
      }
    }
  }

  // --- the running prompt ---

  /** Waits for the next prompt and makes it the running one; null when stopped or interrupted. */
  QueuedPrompt next() {
    synchronized (lock) {
      while (pending.isEmpty() && !stopped) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          return null;
        }
      }
      if (stopped) {
        return null;
      }
      QueuedPrompt job = pending.poll();
      running = job;
      interruptRequested = false;
      onChange.run();
      return job;
    }
  }

  /**
   * The running prompt ended: its history entry (null when the process is going away) is recorded,
   * then the queue status goes out — ComfyUI's {@code task_done}.
   */
  void finished(String promptId, ObjectNode historyEntry) {
    synchronized (lock) {
      running = null;
      runningNode = null;
      if (historyEntry != null) {
        history.put(promptId, historyEntry);
        if (history.size() > MAX_HISTORY) {
          history.remove(history.keySet().iterator().next());
        }
      }
      if (!stopped) {
        onChange.run();
      }
    }
  }

  void runningNode(String nodeId) {
    runningNode = nodeId;
  }

  /**
   * The node running now for the prompt of {@code clientId}; null when none of its prompts runs.
   */
  String runningNodeOf(String clientId) {
    synchronized (lock) {
      if (running != null && clientId.equals(running.clientId()) && runningNode != null) {
        return runningNode;
      }
      return null;
    }
  }

  /**
   * POST /interrupt: interrupts the running prompt, if it is {@code promptId} (null: whichever
   * runs).
   */
  void interrupt(String promptId) {
    synchronized (lock) {
      if (running != null && (promptId == null || promptId.equals(running.promptId()))) {
        interruptRequested = true;
      }
    }
  }

  boolean interruptRequested() {
    return interruptRequested;
  }

  /** Stops like a killed process: nothing more is taken, the running prompt is interrupted. */
  void stop() {
    stopped = true;
  }

  boolean stopped() {
    return stopped;
  }

  void interruptRunning() {
    interruptRequested = true;
  }

  // --- what /queue, /prompt and /ws status show ---

  /** {@code {"exec_info": {"queue_remaining": n}}}: pending and running prompts. */
  ObjectNode info() {
    ObjectNode info = json.object();
    synchronized (lock) {
      info.putObject("exec_info")
          .put("queue_remaining", pending.size() + (running == null ? 0 : 1));
    }
    return info;
  }

  /** GET /queue: the running and the pending prompts. */
  ObjectNode snapshot() {
    ObjectNode queue = json.object();
    ArrayNode runningList = queue.putArray("queue_running");
    ArrayNode pendingList = queue.putArray("queue_pending");
    synchronized (lock) {
      if (running != null) {
        runningList.add(json.queueItem(running));
      }
      pending.stream()
          .sorted(Comparator.comparingDouble(QueuedPrompt::number))
          .forEach(job -> pendingList.add(json.queueItem(job)));
    }
    return queue;
  }

  // --- history ---

  /**
   * GET /history, as ComfyUI's get_history: oldest first, from {@code offset}; a negative offset
   * with {@code maxItems} (not null) starts where the newest {@code maxItems} begin.
   */
  ObjectNode history(int offset, Integer maxItems) {
    ObjectNode reply = json.object();
    synchronized (lock) {
      if (offset < 0 && maxItems != null) {
        offset = history.size() - maxItems;
      }
      int i = 0;
      for (Map.Entry<String, ObjectNode> e : history.entrySet()) {
        if (i++ >= offset) {
          if (maxItems != null && reply.size() >= maxItems) {
            break;
          }
          reply.set(e.getKey(), e.getValue());
        }
      }
    }
    return reply;
  }

  /** GET /history/{id}: the prompt's entry, or an empty object. */
  ObjectNode historyOf(String promptId) {
    ObjectNode reply = json.object();
    synchronized (lock) {
      ObjectNode entry = history.get(promptId);
      if (entry != null) {
        reply.set(promptId, entry);
      }
    }
    return reply;
  }

  /** POST /history: {@code clear} empties it, {@code delete} removes some. */
  void deleteHistory(JsonNode request) {
    synchronized (lock) {
      if (request.path("clear").asBoolean(false)) {
        history.clear();
      }
      for (JsonNode id : request.path("delete")) {
        history.remove(id.asText());
      }
    }
  }
}
