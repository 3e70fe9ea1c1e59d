package io.tempera.testkit.comfyui;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * The node types this server executes: their inputs as /object_info describes them, and their work.
 */
final class NodeLibrary {

  static final List<String> UPSCALE_METHODS =
      List.of("nearest-exact", "bilinear", "area", "bicubic", "lanczos");

  /** One input: a type (INT, FLOAT, STRING, BOOLEAN, COMBO, IMAGE, MASK) and its limits. */
  record Input(
      String name, String type, Object defaultValue, Double min, Double max, List<String> options) {
    boolean literal() {
      return type.equals("INT")
          || type.equals("FLOAT")
          || type.equals("STRING")
          || type.equals("BOOLEAN")
          || type.equals("COMBO");
    }
  }

  /** Runs a node: its input values in, its outputs (and UI output) out. */
  interface Work {
    Result run(Map<String, Object> inputs, Context context) throws Exception;
  }

  /** What a node run can reach: folders, progress reporting, interruption, the websocket. */
  interface Context {
    Path inputDir();

    Path outputDir();

    Path tempDir();

    void progress(int value, int max);

    void checkInterrupted() throws InterruptedException;

    void sendImage(BufferedImage image) throws IOException;
  }

  record Result(List<Object> outputs, Map<String, Object> ui) {}

  record Spec(
      String classType,
      String displayName,
      String category,
      List<Input> required,
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

  private final Map<String, Spec> specs = new LinkedHashMap<>();

  NodeLibrary() {
    add(
        new Spec(
            "EmptyImage",
            "EmptyImage",
            "image",
            List.of(
                intInput("width", 512, 1, 16384),
                intInput("height", 512, 1, 16384),
                intInput("batch_size", 1, 1, 4096),
                intInput("color", 0, 0, 0xFFFFFF)),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              long pixels =
                  (long) integer(in, "width") * integer(in, "height") * integer(in, "batch_size");
              if (pixels > 64L * 1024 * 1024) {
                throw new NodeException(
                    "RuntimeError",
                    "[enforce fail at alloc_cpu.cpp:114] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                        + pixels * 12
                        + " bytes. Error code 12 (Cannot allocate memory)");
              }
              List<BufferedImage> batch = new ArrayList<>();
              for (int i = 0; i < integer(in, "batch_size"); i++) {
                batch.add(
                    ImageOps.filled(
                        integer(in, "width"), integer(in, "height"), integer(in, "color")));
              }
              return new Result(List.of(batch), null);
            }));
    add(
        new Spec(
            "LoadImage",
            "Load Image",
            "image",
            List.of(new Input("image", "COMBO", null, null, null, null)),
            List.of("IMAGE", "MASK"),
            List.of("IMAGE", "MASK"),
            false,
            (in, ctx) -> {
              Path file = ctx.inputDir().resolve(String.valueOf(in.get("image"))).normalize();
              BufferedImage image = ImageIO.read(file.toFile());
              if (image == null) {
                throw new NodeException(
                    "PIL.UnidentifiedImageError", "cannot identify image file '" + file + "'");
              }
              return new Result(
                  List.of(List.of(ImageOps.copyArgb(image)), List.of(ImageOps.alphaMask(image))),
                  null);
            }));
    add(
        new Spec(
            "ImageInvert",
            "Invert Image",
            "image",
            List.of(new Input("image", "IMAGE", null, null, null, null)),
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
                new Input("image", "IMAGE", null, null, null, null),
                combo("upscale_method", UPSCALE_METHODS),
                intInput("width", 512, 0, 16384),
                intInput("height", 512, 0, 16384),
                combo("crop", List.of("disabled", "center"))),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              List<BufferedImage> out = new ArrayList<>();
              for (BufferedImage image : images(in, "image")) {
                int w = integer(in, "width");
                int h = integer(in, "height");
                if (w == 0 && h == 0) {
                  out.add(image);
                  continue;
                }
                if (w == 0) {
                  w =
                      Math.max(
                          1, (int) Math.round(image.getWidth() * (h / (double) image.getHeight())));
                } else if (h == 0) {
                  h =
                      Math.max(
                          1, (int) Math.round(image.getHeight() * (w / (double) image.getWidth())));
                }
                BufferedImage source =
                    "center".equals(in.get("crop")) ? ImageOps.cropCenter(image, w, h) : image;
                out.add(ImageOps.scale(source, w, h, String.valueOf(in.get("upscale_method"))));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageScaleBy",
            "Upscale Image By",
            "image/upscaling",
            List.of(
                new Input("image", "IMAGE", null, null, null, null),
                combo("upscale_method", UPSCALE_METHODS),
                floatInput("scale_by", 1.0, 0.01, 8.0)),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              double by = number(in, "scale_by");
              List<BufferedImage> out = new ArrayList<>();
              for (BufferedImage image : images(in, "image")) {
                out.add(
                    ImageOps.scale(
                        image,
                        (int) Math.round(image.getWidth() * by),
                        (int) Math.round(image.getHeight() * by),
                        String.valueOf(in.get("upscale_method"))));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImageBlur",
            "Image Blur",
            "image/postprocessing",
            List.of(
                new Input("image", "IMAGE", null, null, null, null),
                intInput("blur_radius", 1, 1, 31),
                floatInput("sigma", 1.0, 0.1, 10.0)),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              int radius = integer(in, "blur_radius");
              List<BufferedImage> out = new ArrayList<>();
              for (BufferedImage image : images(in, "image")) {
                if (radius >= image.getWidth() || radius >= image.getHeight()) {
                  throw new NodeException(
                      "RuntimeError",
                      "Argument #4: Padding size should be less than the corresponding input dimension, but got: padding ("
                          + radius
                          + ", "
                          + radius
                          + ") at dimension 3 of input [1, 3, "
                          + image.getHeight()
                          + ", "
                          + image.getWidth()
                          + "]");
                }
                out.add(ImageOps.blur(image, radius, number(in, "sigma")));
              }
              return new Result(List.of(out), null);
            }));
    add(
        new Spec(
            "ImagePadForOutpaint",
            "Pad Image for Outpainting",
            "image",
            List.of(
                new Input("image", "IMAGE", null, null, null, null),
                intInput("left", 0, 0, 16384),
                intInput("top", 0, 0, 16384),
                intInput("right", 0, 0, 16384),
                intInput("bottom", 0, 0, 16384),
                intInput("feathering", 40, 0, 16384)),
            List.of("IMAGE", "MASK"),
            List.of("IMAGE", "MASK"),
            false,
            (in, ctx) -> {
              List<BufferedImage> images = new ArrayList<>();
              List<BufferedImage> masks = new ArrayList<>();
              for (BufferedImage image : images(in, "image")) {
                BufferedImage[] padded =
                    ImageOps.padForOutpaint(
                        image,
                        integer(in, "left"),
                        integer(in, "top"),
                        integer(in, "right"),
                        integer(in, "bottom"),
                        integer(in, "feathering"));
                images.add(padded[0]);
                masks.add(padded[1]);
              }
              return new Result(List.of(images, masks), null);
            }));
    add(
        new Spec(
            "SaveImage",
            "Save Image",
            "image",
            List.of(
                new Input("images", "IMAGE", null, null, null, null),
                new Input("filename_prefix", "STRING", "ComfyUI", null, null, null)),
            List.of(),
            List.of(),
            true,
            (in, ctx) ->
                save(
                    images(in, "images"),
                    String.valueOf(in.get("filename_prefix")),
                    ctx.outputDir(),
                    "output")));
    add(
        new Spec(
            "PreviewImage",
            "Preview Image",
            "image",
            List.of(new Input("images", "IMAGE", null, null, null, null)),
            List.of(),
            List.of(),
            true,
            (in, ctx) ->
                save(
                    images(in, "images"),
                    "ComfyUI_temp_" + Long.toString(System.nanoTime() % 100_000, 36),
                    ctx.tempDir(),
                    "temp")));
    add(
        new Spec(
            "SaveImageWebsocket",
            "SaveImageWebsocket",
            "api node/image",
            List.of(new Input("images", "IMAGE", null, null, null, null)),
            List.of(),
            List.of(),
            true,
            (in, ctx) -> {
              for (BufferedImage image : images(in, "images")) {
                ctx.sendImage(image);
              }
              return new Result(List.of(), null);
            }));
    add(
        new Spec(
            "TemperaDelay",
            "Tempera Delay (test)",
            "testing",
            List.of(
                new Input("image", "IMAGE", null, null, null, null),
                intInput("steps", 10, 1, 10_000),
                intInput("step_ms", 100, 0, 600_000)),
            List.of("IMAGE"),
            List.of("IMAGE"),
            false,
            (in, ctx) -> {
              int steps = integer(in, "steps");
              for (int step = 1; step <= steps; step++) {
                ctx.checkInterrupted();
                Thread.sleep(integer(in, "step_ms"));
                ctx.progress(step, steps);
                for (BufferedImage image : images(in, "image")) {
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
                new Input("image", "IMAGE", null, null, null, null),
                new Input("exception_type", "STRING", "torch.OutOfMemoryError", null, null, null),
                new Input("exception_message", "STRING", "Allocation on device", null, null, null)),
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

  private void add(Spec spec) {
    specs.put(spec.classType(), spec);
  }

  private static Result save(List<BufferedImage> images, String prefix, Path root, String type)
      throws Exception {
    Path normalizedRoot = root.toAbsolutePath().normalize();
    Path target = normalizedRoot.resolve(prefix).normalize();
    if (!target.startsWith(normalizedRoot) || prefix.startsWith("/")) {
      throw new NodeException(
          "Exception",
          "**** ERROR: Saving image outside the output folder is not allowed."
              + "\n full_output_folder: "
              + target.getParent()
              + "\n         output_dir: "
              + normalizedRoot);
    }
    Path folder = target.getParent();
    String base = target.getFileName().toString();
    String subfolder = normalizedRoot.relativize(folder).toString().replace('\\', '/');
    Files.createDirectories(folder);
    int counter = nextCounter(folder, base);
    List<Map<String, Object>> files = new ArrayList<>();
    for (BufferedImage image : images) {
      String name = String.format("%s_%05d_.png", base, counter++);
      ImageIO.write(ImageOps.rgb(image), "png", folder.resolve(name).toFile());
      Map<String, Object> file = new LinkedHashMap<>();
      file.put("filename", name);
      file.put("subfolder", subfolder);
      file.put("type", type);
      files.add(file);
    }
    return new Result(List.of(), Map.of("images", files));
  }

  /** ComfyUI's counter: one more than the highest {prefix}_NNNNN_ already in the folder. */
  private static int nextCounter(Path folder, String base) throws IOException {
    int max = 0;
    try (var files = Files.list(folder)) {
      for (Path file : files.toList()) {
        String name = file.getFileName().toString();
        if (name.startsWith(base + "_") && name.length() >= base.length() + 7) {
          String digits =
              name.substring(base.length() + 1, Math.min(name.length(), base.length() + 6));
          if (digits.chars().allMatch(Character::isDigit) && digits.length() == 5) {
            max = Math.max(max, Integer.parseInt(digits));
          }
        }
      }
    }
    return max + 1;
  }

  @SuppressWarnings("unchecked")
  static List<BufferedImage> images(Map<String, Object> in, String name) {
    return (List<BufferedImage>) in.get(name);
  }

  static int integer(Map<String, Object> in, String name) {
    return ((Number) in.get(name)).intValue();
  }

  static double number(Map<String, Object> in, String name) {
    return ((Number) in.get(name)).doubleValue();
  }

  private static Input intInput(String name, int def, int min, int max) {
    return new Input(name, "INT", def, (double) min, (double) max, null);
  }

  private static Input floatInput(String name, double def, double min, double max) {
    return new Input(name, "FLOAT", def, min, max, null);
  }

  private static Input combo(String name, List<String> options) {
    return new Input(name, "COMBO", options.get(0), null, null, options);
  }
}
