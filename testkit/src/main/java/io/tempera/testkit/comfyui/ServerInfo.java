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
        required.set(
            in.name(),
            in.describe(
                json.mapper,
                spec.classType().equals("LoadImage") && in.name().equals("image")
                    ? files.inputFiles()
                    : null));
        inputOrder.add(in.name());
      }
      if (!spec.hidden().isEmpty()) {
        ObjectNode hidden = input.putObject("hidden");
        spec.hidden().forEach(hidden::put);
      }
      node.set("output", json.tree(spec.outputTypes()));
      node.set("output_is_list", json.tree(spec.outputTypes().stream().map(t -> false).toList()));
      node.set("output_name", json.tree(spec.outputNames()));
      node.put("name", spec.classType());
      node.put("display_name", spec.displayName());
      node.put("description", "");
      node.put(
          "python_module",
          switch (spec.classType()) {
            case "ImageBlur", "ImageBlend", "ImageSharpen" -> "comfy_extras.nodes_post_processing";
            case "ImageCrop" -> "comfy_extras.nodes_images";
            case "MaskToImage" -> "comfy_extras.nodes_mask";
            case "SaveImageWebsocket" -> "custom_nodes.websocket_image_save";
            default ->
                spec.classType().startsWith("Tempera") ? "custom_nodes.tempera_testkit" : "nodes";
          });
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
