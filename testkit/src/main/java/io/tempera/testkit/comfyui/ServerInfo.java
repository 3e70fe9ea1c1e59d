package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;

/**
 * What the server says about itself: /system_stats, /object_info (the node library) and /features.
 */
record ServerInfo(ComfyJson json, NodeLibrary library, FileStore files) {

  ObjectNode systemStats() {
    ObjectNode stats = json.object();
    Runtime runtime = Runtime.getRuntime();
    ObjectNode system = stats.putObject("system");
    system.put(
        "os",
        System.getProperty("os.name").toLowerCase(Locale.ROOT).contains("linux") ? "posix" : "nt");
    system.put("ram_total", runtime.maxMemory());
    system.put("ram_free", runtime.maxMemory() - runtime.totalMemory() + runtime.freeMemory());
    system.put("comfyui_version", "0.25.0");
    system.put(
        "python_version", "3.12.3 (tempera testkit " + System.getProperty("java.version") + ")");
    system.put("pytorch_version", "2.7.0+cpu");
    system.put("embedded_python", false);
    system.putArray("argv").add("main.py").add("--cpu");
    ObjectNode device = stats.putArray("devices").addObject();
    device.put("name", "cpu").put("type", "cpu").put("index", (String) null);
    device.put("vram_total", runtime.maxMemory()).put("vram_free", runtime.freeMemory());
    device
        .put("torch_vram_total", runtime.maxMemory())
        .put("torch_vram_free", runtime.freeMemory());
    return stats;
  }

  /**
   * The node classes (only {@code only}'s when not null), with LoadImage's choices the input files.
   */
  ObjectNode objectInfo(String only) {
    ObjectNode info = json.object();
    for (NodeLibrary.Spec spec : library.all().values()) {
      if (only != null && !only.equals(spec.classType())) {
        continue;
      }
      ObjectNode node = info.putObject(spec.classType());
      ObjectNode input = node.putObject("input");
      ObjectNode required = input.putObject("required");
      ArrayNode inputOrder = node.putObject("input_order").putArray("required");
      for (NodeLibrary.Input in : spec.required()) {
        ArrayNode entry = required.putArray(in.name());
        if (in.type().equals("COMBO")) {
          entry.add(
              spec.classType().equals("LoadImage")
                  ? json.tree(files.inputFiles())
                  : json.tree(in.options()));
        } else {
          entry.add(in.type());
        }
        ObjectNode config = entry.addObject();
        if (in.defaultValue() != null) config.set("default", json.tree(in.defaultValue()));
        if (in.min() != null)
          config.set(
              "min",
              in.type().equals("INT") ? json.tree(in.min().longValue()) : json.tree(in.min()));
        if (in.max() != null)
          config.set(
              "max",
              in.type().equals("INT") ? json.tree(in.max().longValue()) : json.tree(in.max()));
        inputOrder.add(in.name());
      }
      input.putObject("optional");
      input.putObject("hidden");
      node.set("output", json.tree(spec.outputTypes()));
      node.set("output_is_list", json.tree(spec.outputTypes().stream().map(t -> false).toList()));
      node.set("output_name", json.tree(spec.outputNames()));
      node.put("name", spec.classType());
      node.put("display_name", spec.displayName());
      node.put("description", "");
      node.put(
          "python_module",
          spec.classType().startsWith("Tempera") ? "custom_nodes.tempera_testkit" : "nodes");
      node.put("category", spec.category());
      node.put("output_node", spec.outputNode());
    }
    return info;
  }

  ObjectNode features() {
    ObjectNode features = json.object();
    features.put("supports_preview_metadata", true);
    features.put("max_upload_size", FileStore.MAX_UPLOAD);
    return features;
  }
}
