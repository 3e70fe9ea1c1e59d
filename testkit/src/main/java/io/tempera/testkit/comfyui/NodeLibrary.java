package io.tempera.testkit.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node types this server executes: their inputs as /object_info describes them, and their work
 * (on float32 images, as ComfyUI's tensors: see {@link ImageOps}).
 */
final class NodeLibrary {

  static final List<String> UPSCALE_METHODS =
      List.of("nearest-exact", "bilinear", "area", "bicubic", "lanczos");

  /** ComfyUI's MAX_RESOLUTION (16384 since mid-2024; 8192 before). */
  static final int MAX_RESOLUTION = 16384;

  /**
   * EmptyImage refuses more pixels than this (over the batch) with torch's CPU allocation error: a
   * guard for the JVM's heap, where the real server fails only when the allocation does.
   */
  static final long MAX_EMPTY_IMAGE_PIXELS = 16L * 1024 * 1024;

  /**
   * One input: a type (INT, FLOAT, STRING, BOOLEAN, COMBO, IMAGE, MASK), its limits and the other
   * keys of its /object_info config ({@code step}, {@code display}, {@code image_upload}).
   */
  record Input(
      String name,
      String type,
      Object defaultValue,
      Double min,
      Double max,
      List<String> options,
      Map<String, Object> extra) {

    Input(
        String name,
        String type,
        Object defaultValue,
        Double min,
        Double max,
        List<String> options) {
      this(name, type, defaultValue, min, max, options, Map.of());
    }

    boolean literal() {
      return type.equals("INT")
          || type.equals("FLOAT")
          || type.equals("STRING")
          || type.equals("BOOLEAN")
          || type.equals("COMBO");
    }

    /**
     * The input as /object_info and validation errors show it: {@code [type or options, config]},
     * the config left out when empty (as ComfyUI's {@code ("IMAGE",)}).
     */
    ArrayNode describe(ObjectMapper json, List<String> comboOptions) {
      ArrayNode entry = json.createArrayNode();
      if (type.equals("COMBO")) {
        entry.add(json.valueToTree(comboOptions != null ? comboOptions : options));
      } else {
        entry.add(type);
      }
      ObjectNode config = json.createObjectNode();
      if (defaultValue != null) {
        config.set("default", json.valueToTree(defaultValue));
      }
      if (min != null) {
        config.set("min", number(json, min));
      }
      if (max != null) {
        config.set("max", number(json, max));
      }
      extra.forEach((key, value) ->
          config.set(key, value instanceof Double d ? number(json, d) : json.valueToTree(value)));
      if (!config.isEmpty()) {
        entry.add(config);
      }
      return entry;
    }

    private JsonNode number(ObjectMapper json, double value) {
      return type.equals("INT") ? json.valueToTree((long) value) : json.valueToTree(value);
    }
  }

  /** Runs a node: its input values in, its outputs (and UI output) out. */
  interface Work {
    Result run(Map<String, Object> inputs, Context context) throws Exception;
  }

  /** What a node run can reach: folders, the prompt, progress, interruption, the websocket. */
  interface Context {
    Path inputDir();

    Path outputDir();

    Path tempDir();

    /** The node's id in the prompt. */
    String nodeId();

    /** The hidden PROMPT input: the prompt as queued (after validation's conversions). */
    JsonNode prompt();

    /** The hidden EXTRA_PNGINFO input: {@code extra_data.extra_pnginfo}, or null. */
    JsonNode extraPngInfo();

    void progress(int value, int max) throws InterruptedException;

    void checkInterrupted() throws InterruptedException;

    /** A preview (or SaveImageWebsocket's image) as a PNG binary frame. */
    void sendImage(FloatImage image) throws IOException;
  }

  record Result(List<Object> outputs, Map<String, Object> ui) {}

  record Spec(
      String classType,
      String displayName,
      String category,
      List<Input> required,
      Map<String, String> hidden,
      List<String> outputTypes,
      List<String> outputNames,
      boolean outputNode,
      Work work) {

    Input input(String name) {
      return required.stream().filter(i -> i.name().equals(name)).findFirst().orElse(null);
    }
  }

  /** A node failure with Python's exception type, as execution_error reports it. */
  static final class NodeException extends Exception {
    final String type;

    NodeException(String type, String message) {
      super(message);
      this.type = type;
    }
  }

  private static final Map<String, String> SAVE_HIDDEN =
      orderedMap("prompt", "PROMPT", "extra_pnginfo", "EXTRA_PNGINFO");

  private final Map<String, Spec> specs = new LinkedHashMap<>();

  /**
   * The random {@code _temp_xxxxx} suffix of each PreviewImage node: ComfyUI makes it when it
   * creates the node's object, which it keeps while the following prompts have that node.
   */
  private final Map<String, String> previewSuffixes = new ConcurrentHashMap<>();

  private final SecureRandom random = new SecureRandom();

  NodeLibrary() {
    add(
        new Spec(
            "EmptyImage",
            "EmptyImage",
            "image",
            List.of(
                intInput("width", 512, 1, MAX_RESOLUTION, 1),
                intInput("height", 512, 1, MAX_RESOLUTION, 1),
                intInput("batch_size", 1, 1, 4096, null),
                new Input(
                    "color",
                    "INT",
                    0,
                    0.0,
                    (double) 0xFFFFFF,
                    null,
                    orderedMap("step", 1.0, "display", "color"))),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              long width = integer(in, "width");
              long height = integer(in, "height");
              long batch = integer(in, "batch_size");
              if (width * height * batch > MAX_EMPTY_IMAGE_PIXELS) {
                throw new NodeException(
                    "RuntimeError",
                    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't"
                        + " allocate memory: you tried to allocate "
                        + batch * height * width * 4
                        + " bytes. Error code 12 (Cannot allocate memory)");
              }
              List<FloatImage> images = new ArrayList<>();
              FloatImage image = ImageOps.filled((int) width, (int) height, integer(in, "color"));
              for (int i = 0; i < batch; i++) {
                images.add(image);
              }
              return new Result(List.of(images), null);
            }));
    add(
        new Spec(
            "LoadImage",
            "Load Image",
            "image",
            List.of(
                new Input("image", "COMBO", null, null, null, null, Map.of("image_upload", true))),
            Map.of(),
            List.of("IMAGE", "MASK"),
            List.of("IMAGE", "MASK"),
            false,
            (in, ctx) -> {
              Path file = ctx.inputDir().resolve(String.valueOf(in.get("image"))).normalize();
              FloatImage[] loaded = ImageOps.load(file);
              if (loaded == null) {
                throw new NodeException(
                    "PIL.UnidentifiedImageError", "cannot identify image file '" + file + "'");
              }
              return new Result(List.of(List.of(loaded[0]), List.of(loaded[1])), null);
            }));
    add(
        new Spec(
            "ImageInvert",
            "Invert Image",
            "image",
            List.of(image("image")),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) ->
                new Result(
                    List.of(images(in, "image").stream().map(ImageOps::invert).toList()), null)));
    add(
        new Spec(
            "ImageScale",
            "Upscale Image",
            "image/upscaling",
            List.of(
                image("image"),
                combo("upscale_method", UPSCALE_METHODS),
                intInput("width", 512, 0, MAX_RESOLUTION, 1),
                intInput("height", 512, 0, MAX_RESOLUTION, 1),
                combo("crop", List.of("disabled", "center"))),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              List<FloatImage> sources = images(in, "image");
              int w = integer(in, "width");
              int h = integer(in, "height");
              if (w == 0 && h == 0) {
                return new Result(List.of(sources), null);
              }
              FloatImage first = sources.get(0);
              if (w == 0) {
                w = Math.max(1, ImageOps.pyRound(first.width() * (double) h / first.height()));
              } else if (h == 0) {
                h = Math.max(1, ImageOps.pyRound(first.height() * (double) w / first.width()));
              }
              List<FloatImage> out = new ArrayList<>();
              for (FloatImage source : sources) {
                FloatImage cropped =
                    "center".equals(in.get("crop")) ? ImageOps.cropCenter(source, w, h) : source;
                out.add(scale(cropped, w, h, String.valueOf(in.get("upscale_method"))));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageScaleBy",
            "Upscale Image By",
            "image/upscaling",
            List.of(
                image("image"),
                combo("upscale_method", UPSCALE_METHODS),
                floatInput("scale_by", 1.0, 0.01, 8.0, 0.01)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              double by = number(in, "scale_by");
              List<FloatImage> out = new ArrayList<>();
              for (FloatImage source : images(in, "image")) {
                out.add(
                    scale(
                        source,
                        ImageOps.pyRound(source.width() * by),
                        ImageOps.pyRound(source.height() * by),
                        String.valueOf(in.get("upscale_method"))));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageBlur",
            "ImageBlur",
            "image/postprocessing",
            List.of(
                image("image"),
                intInput("blur_radius", 1, 1, 31, 1),
                floatInput("sigma", 1.0, 0.1, 10.0, 0.1)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              int radius = integer(in, "blur_radius");
              List<FloatImage> sources = images(in, "image");
              checkReflectPad(sources, radius);
              List<FloatImage> out = new ArrayList<>();
              for (FloatImage source : sources) {
                out.add(ImageOps.blur(source, radius, number(in, "sigma")));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageSharpen",
            "ImageSharpen",
            "image/postprocessing",
            List.of(
                image("image"),
                intInput("sharpen_radius", 1, 1, 31, 1),
                floatInput("sigma", 1.0, 0.1, 10.0, 0.1),
                floatInput("alpha", 1.0, 0.0, 5.0, 0.1)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              int radius = integer(in, "sharpen_radius");
              List<FloatImage> sources = images(in, "image");
              checkReflectPad(sources, radius);
              List<FloatImage> out = new ArrayList<>();
              for (FloatImage source : sources) {
                out.add(ImageOps.sharpen(source, radius, number(in, "sigma"), number(in, "alpha")));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageBlend",
            "ImageBlend",
            "image/postprocessing",
            List.of(
                image("image1"),
                image("image2"),
                floatInput("blend_factor", 0.5, 0.0, 1.0, 0.01),
                combo(
                    "blend_mode",
                    List.of(
                        "normal", "multiply", "screen", "overlay", "soft_light", "difference"))),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              List<FloatImage> first = images(in, "image1");
              List<FloatImage> second = images(in, "image2");
              if (second.size() != first.size() && second.size() != 1) {
                throw new NodeException(
                    "RuntimeError",
                    "The size of tensor a ("
                        + first.size()
                        + ") must match the size of tensor b ("
                        + second.size()
                        + ") at non-singleton dimension 0");
              }
              List<FloatImage> out = new ArrayList<>();
              for (int i = 0; i < first.size(); i++) {
                out.add(
                    ImageOps.blend(
                        first.get(i),
                        second.get(second.size() == 1 ? 0 : i),
                        number(in, "blend_factor"),
                        String.valueOf(in.get("blend_mode"))));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageCrop",
            "ImageCrop",
            "image/transform",
            List.of(
                image("image"),
                intInput("width", 512, 1, MAX_RESOLUTION, 1),
                intInput("height", 512, 1, MAX_RESOLUTION, 1),
                intInput("x", 0, 0, MAX_RESOLUTION, 1),
                intInput("y", 0, 0, MAX_RESOLUTION, 1)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              List<FloatImage> out = new ArrayList<>();
              for (FloatImage source : images(in, "image")) {
                out.add(
                    ImageOps.cropAt(
                        source,
                        integer(in, "width"),
                        integer(in, "height"),
                        integer(in, "x"),
                        integer(in, "y")));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImagePadForOutpaint",
            "Pad Image for Outpainting",
            "image",
            List.of(
                image("image"),
                intInput("left", 0, 0, MAX_RESOLUTION, 8),
                intInput("top", 0, 0, MAX_RESOLUTION, 8),
                intInput("right", 0, 0, MAX_RESOLUTION, 8),
                intInput("bottom", 0, 0, MAX_RESOLUTION, 8),
                intInput("feathering", 40, 0, MAX_RESOLUTION, 1)),
            Map.of(),
            List.of("IMAGE", "MASK"),
            List.of("IMAGE", "MASK"),
            false,
            (in, ctx) -> {
              List<FloatImage> images = new ArrayList<>();
              FloatImage mask = null;
              for (FloatImage source : images(in, "image")) {
                FloatImage[] padded =
                    ImageOps.padForOutpaint(
                        source,
                        integer(in, "left"),
                        integer(in, "top"),
                        integer(in, "right"),
                        integer(in, "bottom"),
                        integer(in, "feathering"));
                images.add(padded[0]);
                mask = padded[1];
              }
              // one [H, W] mask for the whole batch, as ComfyUI's
              return new Result(List.of(images, List.of(mask)), null);
            }));
    add(
        new Spec(
            "MaskToImage",
            "Convert Mask to Image",
            "mask",
            List.of(new Input("mask", "MASK", null, null, null, null)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) ->
                new Result(
                    List.of(images(in, "mask").stream().map(ImageOps::maskToImage).toList()),
                    null)));
    add(
        new Spec(
            "SaveImage",
            "Save Image",
            "image",
            List.of(
                image("images"),
                new Input("filename_prefix", "STRING", "ComfyUI", null, null, null)),
            SAVE_HIDDEN,
            List.of(),
            List.of(),
            true,
            (in, ctx) ->
                save(
                    images(in, "images"),
                    String.valueOf(in.get("filename_prefix")),
                    ctx.outputDir(),
                    "output",
                    4,
                    ctx)));
    add(
        new Spec(
            "PreviewImage",
            "Preview Image",
            "image",
            List.of(image("images")),
            SAVE_HIDDEN,
            List.of(),
            List.of(),
            true,
            (in, ctx) ->
                save(
                    images(in, "images"),
                    "ComfyUI_temp_" + previewSuffixes.computeIfAbsent(ctx.nodeId(), id -> suffix()),
                    ctx.tempDir(),
                    "temp",
                    1,
                    ctx)));
    add(
        new Spec(
            "SaveImageWebsocket",
            "SaveImageWebsocket",
            "image",
            List.of(image("images")),
            Map.of(),
            List.of(),
            List.of(),
            true,
            (in, ctx) -> {
              // a ProgressBar over the batch: progress(step, n) with each image, step from 0
              List<FloatImage> images = images(in, "images");
              for (int step = 0; step < images.size(); step++) {
                ctx.progress(step, images.size());
                ctx.sendImage(images.get(step));
              }
              return new Result(List.of(), null);
            }));
    add(
        new Spec(
            "TemperaDelay",
            "Tempera Delay (test)",
            "testing",
            List.of(
                image("image"),
                intInput("steps", 10, 1, 10_000, null),
                intInput("step_ms", 100, 0, 600_000, null)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              int steps = integer(in, "steps");
              for (int step = 1; step <= steps; step++) {
                ctx.checkInterrupted();
                Thread.sleep(integer(in, "step_ms"));
                ctx.progress(step, steps);
                for (FloatImage image : images(in, "image")) {
                  ctx.sendImage(image); // a live preview per step, as samplers send
                }
              }
              return new Result(List.of(images(in, "image")), null);
            }));
    add(
        new Spec(
            "TemperaFault",
            "Tempera Fault (test)",
            "testing",
            List.of(
                image("image"),
                new Input("exception_type", "STRING", "torch.OutOfMemoryError", null, null, null),
                new Input("exception_message", "STRING", "Allocation on device", null, null, null)),
            Map.of(),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              throw new NodeException(
                  String.valueOf(in.get("exception_type")),
                  String.valueOf(in.get("exception_message")));
            }));
  }

  Spec get(String classType) {
    return specs.get(classType);
  }

  Map<String, Spec> all() {
    return specs;
  }

  /**
   * Forgets the node objects (a PreviewImage's suffix) of the nodes the prompt does not have (as
   * that class), as ComfyUI drops them when a new prompt starts.
   */
  void retainNodes(JsonNode prompt) {
    previewSuffixes
        .keySet()
        .removeIf(id -> !"PreviewImage".equals(prompt.path(id).path("class_type").asText()));
  }

  /** Adds (or replaces) a node class; package-private so that tests can add a failing one. */
  void add(Spec spec) {
    specs.put(spec.classType(), spec);
  }

  /** PreviewImage's {@code _temp_} + 5 letters of its (misspelt) alphabet. */
  private String suffix() {
    String letters = "abcdefghijklmnopqrstupvxyz";
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      s.append(letters.charAt(random.nextInt(letters.length())));
    }
    return s.toString();
  }

  /**
   * torch's {@code F.pad(..., 'reflect')} refuses a padding as large as the image: it checks the
   * last dimension (width) first, then the height.
   */
  private static void checkReflectPad(List<FloatImage> batch, int radius) throws NodeException {
    FloatImage first = batch.get(0);
    if (radius < first.width() && radius < first.height()) {
      return;
    }
    boolean width = radius >= first.width();
    throw new NodeException(
        "RuntimeError",
        "Argument #"
            + (width ? 4 : 6)
            + ": Padding size should be less than the corresponding input dimension, but got:"
            + " padding ("
            + radius
            + ", "
            + radius
            + ") at dimension "
            + (width ? 3 : 2)
            + " of input ["
            + batch.size()
            + ", 3, "
            + first.height()
            + ", "
            + first.width()
            + "]");
  }

  private static FloatImage scale(FloatImage source, int width, int height, String method)
      throws NodeException {
    if (width <= 0 || height <= 0) {
      if (method.equals("lanczos")) {
        throw new NodeException("ValueError", "height and width must be > 0");
      }
      throw new NodeException(
          "RuntimeError",
          "Input and output sizes should be greater than 0, but got input (H: "
              + source.height()
              + ", W: "
              + source.width()
              + ") output (H: "
              + height
              + ", W: "
              + width
              + ")");
    }
    return ImageOps.scale(source, width, height, method);
  }

  /**
   * SaveImage and PreviewImage: folder_paths.get_save_image_path's subfolder, counter and escape
   * check, {@code %width%}/{@code %height%}/{@code %batch_num%}, and the PNG's {@code prompt} and
   * {@code extra_pnginfo} tEXt chunks.
   */
  private static Result save(
      List<FloatImage> images, String prefix, Path root, String type, int level, Context ctx)
      throws Exception {
    FloatImage first = images.get(0);
    prefix =
        prefix
            .replace("%width%", Integer.toString(first.width()))
            .replace("%height%", Integer.toString(first.height()));
    Path output = root.toAbsolutePath().normalize();
    Path normalized = Path.of(prefix).normalize();
    String subfolder =
        normalized.getParent() == null ? "" : normalized.getParent().toString().replace('\\', '/');
    String base = normalized.getFileName() == null ? "" : normalized.getFileName().toString();
    Path folder = output.resolve(subfolder).toAbsolutePath().normalize();
    if (!folder.startsWith(output)) {
      Path common = output.getRoot();
      for (int i = 0; i < Math.min(output.getNameCount(), folder.getNameCount()); i++) {
        if (!output.getName(i).equals(folder.getName(i))) {
          break;
        }
        common = common.resolve(output.getName(i));
      }
      throw new NodeException(
          "Exception",
          "**** ERROR: Saving image outside the output folder is not allowed."
              + "\n full_output_folder: "
              + folder
              + "\n         output_dir: "
              + output
              + "\n         commonpath: "
              + common);
    }
    Files.createDirectories(folder);
    int counter = nextCounter(folder, base);
    Map<String, String> text = new LinkedHashMap<>();
    if (ctx.prompt() != null) {
      text.put("prompt", PyJson.dumps(ctx.prompt()));
    }
    JsonNode extra = ctx.extraPngInfo();
    if (extra != null && extra.isObject()) {
      extra.fields().forEachRemaining(e -> text.put(e.getKey(), PyJson.dumps(e.getValue())));
    }
    List<Map<String, Object>> files = new ArrayList<>();
    for (int batch = 0; batch < images.size(); batch++) {
      String name =
          String.format(
              "%s_%05d_.png", base.replace("%batch_num%", Integer.toString(batch)), counter++);
      Files.write(folder.resolve(name), Png.encode(images.get(batch), text, level));
      Map<String, Object> file = new LinkedHashMap<>();
      file.put("filename", name);
      file.put("subfolder", subfolder);
      file.put("type", type);
      files.add(file);
    }
    return new Result(List.of(), Map.of("images", files));
  }

  /**
   * ComfyUI's counter: one more than the highest number after {@code <prefix>_} (up to the next
   * {@code _}; 0 when that is not a number) of the files named {@code <prefix>_…}.
   */
  private static int nextCounter(Path folder, String base) throws IOException {
    int max = 0;
    try (var files = Files.list(folder)) {
      for (Path file : files.toList()) {
        String name = file.getFileName().toString();
        if (name.length() > base.length()
            && name.startsWith(base)
            && name.charAt(base.length()) == '_') {
          String digits = name.substring(base.length() + 1).split("_", -1)[0];
          try {
            max = Math.max(max, Integer.parseInt(digits.strip()));
          } catch (NumberFormatException notANumber) {
            // counts as 0
          }
        }
      }
    }
    return max + 1;
  }

  @SuppressWarnings("unchecked")
  static List<FloatImage> images(Map<String, Object> in, String name) {
    return (List<FloatImage>) in.get(name);
  }

  static int integer(Map<String, Object> in, String name) {
    return ((Number) in.get(name)).intValue();
  }

  static double number(Map<String, Object> in, String name) {
    return ((Number) in.get(name)).doubleValue();
  }

  private static Input image(String name) {
    return new Input(name, "IMAGE", null, null, null, null);
  }

  private static Input intInput(String name, int def, int min, int max, Integer step) {
    return new Input(
        name,
        "INT",
        def,
        (double) min,
        (double) max,
        null,
        step == null ? Map.of() : Map.of("step", (double) step));
  }

  private static Input floatInput(String name, double def, double min, double max, double step) {
    return new Input(name, "FLOAT", def, min, max, null, Map.of("step", step));
  }

  private static Input combo(String name, List<String> options) {
    return new Input(name, "COMBO", null, null, null, options);
  }

  private static <V> Map<String, V> orderedMap(String k1, V v1, String k2, V v2) {
    Map<String, V> map = new LinkedHashMap<>();
    map.put(k1, v1);
    map.put(k2, v2);
    return map;
  }
}
