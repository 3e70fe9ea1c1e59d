package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * A prompt's graph as the executor reads it: the order its nodes run in, their cache keys and
 * inputs.
 */
final class PromptGraph {

  /** What a node produced: its outputs by index and what it shows in the UI (null: nothing). */
  record NodeOutcome(List<Object> outputs, Map<String, Object> ui) {}

  private PromptGraph() {}

  /**
   * The order the nodes that are not cached run in, as ComfyUI's ExecutionList stages them: of the
   * nodes whose inputs are ready, an output node first, else one an output waits for, else one a
   * node an output waits for waits for, else the first pending (pending in the order the outputs
   * and then their inputs were added, inputs taken last-listed first).
   */
  static List<String> runOrder(
      ObjectNode prompt, List<String> outputs, Set<String> cached, Predicate<String> isOutput) {
    Map<String, Boolean> pending = new LinkedHashMap<>();
    Map<String, Set<String>> blockers = new HashMap<>();
    Map<String, Set<String>> blocking = new HashMap<>();
    for (String output : outputs) {
      addNode(prompt, output, cached, pending, blockers, blocking);
    }
    List<String> order = new ArrayList<>();
    while (!pending.isEmpty()) {
      List<String> ready = new ArrayList<>();
      for (String id : pending.keySet()) {
        if (blockers.get(id).isEmpty()) {
          ready.add(id);
        }
      }
      if (ready.isEmpty()) {
        break; // a cycle: validation refuses those
      }
      String picked = pick(ready, pending, blocking, isOutput);
      pending.remove(picked);
      for (String blocker : blockers.remove(picked)) {
        if (blocking.containsKey(blocker)) {
          blocking.get(blocker).remove(picked);
        }
      }
      for (String blocked : blocking.remove(picked)) {
        blockers.get(blocked).remove(picked);
      }
      order.add(picked);
    }
    return order;
  }

  private static void addNode(
      ObjectNode prompt,
      String start,
      Set<String> cached,
      Map<String, Boolean> pending,
      Map<String, Set<String>> blockers,
      Map<String, Set<String>> blocking) {
    List<String> stack = new ArrayList<>(List.of(start));
    List<String[]> links = new ArrayList<>();
    while (!stack.isEmpty()) {
      String id = stack.remove(stack.size() - 1);
      if (pending.containsKey(id)) {
        continue;
      }
      pending.put(id, true);
      blockers.put(id, new LinkedHashSet<>());
      blocking.put(id, new LinkedHashSet<>());
      prompt
          .path(id)
          .path("inputs")
          .forEach(value -> {
            if (value.isArray() && value.size() == 2 && prompt.has(value.get(0).asText())) {
              String from = value.get(0).asText();
              if (!cached.contains(from)) {
                stack.add(from);
              }
              links.add(new String[] {from, id});
            }
          });
    }
    for (String[] link : links) {
      if (!cached.contains(link[0]) || pending.containsKey(link[0])) {
        addNode(prompt, link[0], cached, pending, blockers, blocking);
        blocking.get(link[0]).add(link[1]);
        blockers.get(link[1]).add(link[0]);
      }
    }
  }

  private static String pick(
      List<String> ready,
      Map<String, Boolean> pending,
      Map<String, Set<String>> blocking,
      Predicate<String> isOutput) {
    for (String id : ready) {
      if (isOutput.test(id)) {
        return id;
      }
    }
    for (String id : ready) {
      for (String blocked : blocking.get(id)) {
        if (isOutput.test(blocked)) {
          return id;
        }
      }
    }
    for (String id : ready) {
      for (String blocked : blocking.get(id)) {
        if (pending.containsKey(blocked)) {
          for (String next : blocking.get(blocked)) {
            if (isOutput.test(next)) {
              return id;
            }
          }
        }
      }
    }
    return ready.get(0);
  }

  /** The nodes the prompt's outputs need, dependencies first. */
  static List<String> executionOrder(ObjectNode prompt, List<String> outputs) {
    List<String> order = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String output : outputs) {
      visit(prompt, output, seen, order);
    }
    return order;
  }

  private static void visit(ObjectNode prompt, String id, Set<String> seen, List<String> order) {
    if (!seen.add(id)) {
      return;
    }
    prompt
        .path(id)
        .path("inputs")
        .forEach(value -> {
          if (value.isArray() && value.size() == 2 && prompt.has(value.get(0).asText())) {
            visit(prompt, value.get(0).asText(), seen, order);
          }
        });
    order.add(id);
  }

  /**
   * A node's cache key: its class and literal inputs, and its inputs' keys for links (a LoadImage
   * also its file's time and size; a SaveImageWebsocket is never cached).
   */
  static Map<String, String> cacheKeys(ObjectNode prompt, List<String> order, Path inputDir) {
    Map<String, String> keys = new HashMap<>();
    for (String id : order) {
      JsonNode node = prompt.get(id);
      StringBuilder key = new StringBuilder(node.path("class_type").asText()).append('{');
      List<String> names = new ArrayList<>();
      node.path("inputs").fieldNames().forEachRemaining(names::add);
      names.sort(null);
      for (String name : names) {
        JsonNode value = node.path("inputs").get(name);
        key.append(name).append('=');
        if (value.isArray() && value.size() == 2 && keys.containsKey(value.get(0).asText())) {
          key.append('<')
              .append(keys.get(value.get(0).asText()))
              .append('#')
              .append(value.get(1).asInt())
              .append('>');
        } else {
          key.append(value);
        }
        key.append(';');
      }
      if (node.path("class_type").asText().equals("LoadImage")) {
        Path file = inputDir.resolve(node.path("inputs").path("image").asText()).normalize();
        try {
          key.append("mtime=")
              .append(Files.getLastModifiedTime(file).toMillis())
              .append(";size=")
              .append(Files.size(file));
        } catch (IOException e) {
          key.append("missing");
        }
      }
      if (node.path("class_type").asText().equals("SaveImageWebsocket")) {
        key.append("never-cached:").append(UUID.randomUUID());
      }
      keys.put(id, key.append('}').toString());
    }
    return keys;
  }

  /**
   * The node's required inputs: linked ones from the outcomes of the nodes before, literals by
   * their type.
   */
  static Map<String, Object> resolveInputs(
      JsonNode inputs, NodeLibrary.Spec spec, Map<String, NodeOutcome> results) {
    Map<String, Object> values = new HashMap<>();
    for (NodeLibrary.Input input : spec.required()) {
      JsonNode value = inputs.get(input.name());
      if (value.isArray()) {
        NodeOutcome source = results.get(value.get(0).asText());
        values.put(input.name(), source.outputs().get(value.get(1).asInt()));
      } else {
        values.put(
            input.name(),
            switch (input.type()) {
              case "INT" ->
                  (long)
                      (value.isNumber()
                          ? value.asDouble()
                          : Double.parseDouble(value.asText().trim()));
              case "FLOAT" ->
                  value.isNumber() ? value.asDouble() : Double.parseDouble(value.asText().trim());
              case "BOOLEAN" -> value.asBoolean();
              default -> value.asText();
            });
      }
    }
    return values;
  }
}
