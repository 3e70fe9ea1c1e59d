package io.tempera.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TemplateParser on mutated copies of the shipped templates (fields of the wrong type, required
 * ones removed, huge numbers, deep nesting, hostile strings, broken expressions): it never throws,
 * only returns problems that name the file and a JSON path; and a template it accepts translates at
 * every tier without anything but the project's own errors. Seeded fuzz tests: see {@link Fuzz} for
 * the seed, the number of tries and a replay.
 */
class TemplateParserFuzzPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Writes the mutated trees: as deep as a mutation makes them (Jackson's writer stops at 1000
   * levels by default), so that the parser, not the test, meets a file nested too deeply.
   */
  private static final ObjectMapper WRITER =
      new ObjectMapper(
          com.fasterxml.jackson.core.JsonFactory.builder()
              .streamWriteConstraints(
                  com.fasterxml.jackson.core.StreamWriteConstraints.builder()
                      .maxNestingDepth(100_000)
                      .build())
              .build());

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final Path SHIPPED = Path.of("../templates/functions");

  private static Path root;
  private static List<String> names;

  @BeforeAll
  static void copyTheShippedTemplates() throws IOException {
    root = Files.createTempDirectory("tempera-template-fuzz");
    List<String> found = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(SHIPPED)) {
      for (Path dir : dirs.sorted().toList()) {
        if (!Files.isRegularFile(dir.resolve("template.json"))) {
          continue;
        }
        Path copy = Files.createDirectories(root.resolve(dir.getFileName().toString()));
        try (Stream<Path> files = Files.list(dir)) {
          for (Path file : files.toList()) {
            if (Files.isRegularFile(file)) {
              Files.copy(file, copy.resolve(file.getFileName()));
            }
          }
        }
        found.add(dir.getFileName().toString());
      }
    }
    names = List.copyOf(found);
  }

  @AfterAll
  static void removeTheCopies() throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  record Mutated(String name, List<Mutation> mutations) {}

  @Test
  void mutatedTemplatesGiveProblemsWithAPathNeverAnException() {
    Fuzz.forAll(
        "mutatedTemplatesGiveProblemsWithAPathNeverAnException",
        300,
        f -> new Mutated(f.of(names), mutations(f)),
        m -> mutatedTemplatesGiveProblemsWithAPathNeverAnException(m.name(), m.mutations()));
  }

  private static void mutatedTemplatesGiveProblemsWithAPathNeverAnException(
      String name, List<Mutation> mutations) throws IOException {
    Path dir = root.resolve(name);
    ObjectNode template = (ObjectNode) JSON.readTree(dir.resolve("template.json").toFile());
    for (Mutation mutation : mutations) {
      mutation.applyTo(template);
    }
    Path file = dir.resolve("mutated.json");
    Files.write(file, WRITER.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
    TemplateParser.Parsed parsed = parseOrFail(file, mutations);
    if (parsed.template() == null || !parsed.problems().isEmpty()) {
      assertThat(parsed.template()).isNull();
      assertThat(parsed.problems()).isNotEmpty();
      for (TemplateProblem problem : parsed.problems()) {
        assertThat(problem.file()).isEqualTo(file.toString());
        assertThat(problem.path()).startsWith("$");
        assertThat(problem.reason()).isNotBlank();
      }
      return;
    }
    translateOrFail(parsed.template(), mutations);
  }

  record Structured(
      String name, List<JsonNode> specs, List<JsonNode> mappings, JsonNode variants) {}

  @Test
  void arbitraryParametersMappingsAndVariantsGiveProblemsNeverAnException() {
    Fuzz.forAll(
        "arbitraryParametersMappingsAndVariantsGiveProblemsNeverAnException",
        300,
        f -> new Structured(f.of(names), parameterSpecs(f), mappingEntries(f), variantList(f)),
        s ->
            arbitraryParametersMappingsAndVariantsGiveProblemsNeverAnException(
                s.name(), s.specs(), s.mappings(), s.variants()));
  }

  private static void arbitraryParametersMappingsAndVariantsGiveProblemsNeverAnException(
      String name, List<JsonNode> specs, List<JsonNode> mappings, JsonNode variants)
      throws IOException {
    Path dir = root.resolve(name);
    ObjectNode template = (ObjectNode) JSON.readTree(dir.resolve("template.json").toFile());
    ObjectNode parameters = template.withObjectProperty("parameters");
    List<String> existing = new ArrayList<>();
    parameters.fieldNames().forEachRemaining(existing::add);
    for (int i = 0; i < specs.size(); i++) {
      // replace a declared parameter (its mappings stay) or add one
      String key = i < existing.size() && i % 2 == 0 ? existing.get(i) : "fuzz" + i;
      parameters.set(key, specs.get(i));
    }
    if (!mappings.isEmpty() && !"script".equals(template.path("backend").path("type").asText())) {
      ArrayNode list = template.withArrayProperty("parameter_mapping");
      mappings.forEach(list::add);
    }
    if (!variants.isMissingNode()) {
      template.set("variants", variants);
    }
    List<Mutation> described =
        List.of(new Mutation(0, Kind.REPLACE, "parameters", parameters.deepCopy()));
    Path file = dir.resolve("structured.json");
    Files.write(file, WRITER.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
    TemplateParser.Parsed parsed = parseOrFail(file, described);
    if (parsed.ok()) {
      translateOrFail(parsed.template(), described);
    } else {
      assertThat(parsed.template()).isNull();
      parsed.problems().forEach(p -> assertThat(p.path()).startsWith("$"));
    }
  }

  record NumberAt(JsonNode number, String field) {}

  @Test
  void wholeNumbersBeyondTheirRangeAreRefusedNotWrapped() {
    Fuzz.forAll(
        "wholeNumbersBeyondTheirRangeAreRefusedNotWrapped",
        100,
        f -> new NumberAt(outOfRange(f), numericField(f)),
        n -> wholeNumbersBeyondTheirRangeAreRefusedNotWrapped(n.number(), n.field()));
  }

  private static void wholeNumbersBeyondTheirRangeAreRefusedNotWrapped(
      JsonNode number, String field) throws IOException {
    Path dir = root.resolve("framed-color");
    ObjectNode template = (ObjectNode) JSON.readTree(dir.resolve("template.json").toFile());
    String path =
        switch (field) {
          case "weight" -> {
            ArrayNode variants = template.putArray("variants");
            variants.addObject().put("name", "a").set("weight", number);
            variants.addObject().put("name", "b").put("weight", 1);
            yield "$.variants[0].weight";
          }
          case "timeout_seconds" -> {
            template.set("timeout_seconds", number);
            yield "$.timeout_seconds";
          }
          case "stall_seconds" -> {
            template.putObject("timeouts").set("stall_seconds", number);
            yield "$.timeouts.stall_seconds";
          }
          default -> {
            template.putObject("tiers").putObject("draft").set(field, number);
            yield "$.tiers.draft." + field;
          }
        };
    Path file = dir.resolve("numbers.json");
    Files.write(file, WRITER.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
    TemplateParser.Parsed parsed = parseOrFail(file, List.of());
    assertThat(parsed.problems()).extracting(TemplateProblem::path).contains(path);
  }

  static JsonNode outOfRange(Fuzz f) {
    return switch (f.choice(3)) {
      case 0 ->
          NODES.numberNode(
              f.of(0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 4_294_967_297L, 4_294_967_296L));
      case 1 -> {
        BigInteger b = f.between(BigInteger.TWO.pow(64), BigInteger.TWO.pow(70));
        yield NODES.numberNode(b.subtract(b.mod(BigInteger.TWO.pow(64))).add(BigInteger.ONE));
      }
      default -> NODES.numberNode(f.of(0.5, 1e300, -3.0));
    };
  }

  static String numericField(Fuzz f) {
    return f.of(
        "weight",
        "timeout_seconds",
        "stall_seconds",
        "steps",
        "resolution",
        "vram_mb",
        "max_concurrent");
  }

  static List<JsonNode> parameterSpecs(Fuzz f) {
    return f.list(0, 3, () -> f.bool() ? parameterSpec(f) : f.templateValue());
  }

  private static JsonNode parameterSpec(Fuzz f) {
    String type = f.of("string", "integer", "number", "boolean", "image", "float", "", "Integer");
    JsonNode def = f.orNull(0.5, f::smallValue);
    JsonNode min = f.orNull(0.6, f::smallValue);
    JsonNode max = f.orNull(0.6, f::smallValue);
    List<JsonNode> choices = f.orNull(0.6, () -> f.list(0, 4, f::smallValue));
    JsonNode nullable = f.orNull(0.5, f::smallValue);
    JsonNode required = f.orNull(0.5, f::smallValue);
    ObjectNode node = NODES.objectNode().put("type", type);
    if (def != null) node.set("default", def);
    if (min != null) node.set("min", min);
    if (max != null) node.set("max", max);
    if (choices != null) node.set("enum", NODES.arrayNode().addAll(choices));
    if (nullable != null) node.set("nullable", nullable);
    if (required != null) node.set("required", required);
    return node;
  }

  static List<JsonNode> mappingEntries(Fuzz f) {
    return f.list(0, 3, () -> mapping(f));
  }

  private static JsonNode mapping(Fuzz f) {
    String type = f.of("direct", "lookup", "computed", "file_upload", "model_file", "seed", "");
    String parameter =
        f.orNull(
            0.3, () -> f.of("mood", "scale", "prompt", "size", "seed", "image", "fuzz0", "tier"));
    String target =
        f.orNull(
            0.1,
            () ->
                f.of(
                    "1.inputs.width",
                    "3.inputs.seed",
                    "steps",
                    "0",
                    "prompt",
                    "1.inputs.",
                    ".inputs.x",
                    "1.inputs.nope",
                    "$gradio.inputs.x"));
    String expression = f.orNull(0.5, f::expressionSoup);
    String when = f.orNull(0.8, f::expressionSoup);
    JsonNode table = f.orNull(0.5, f::smallValue);
    String file = f.orNull(0.8, () -> f.of("checkpoints", "../x", "", "vae"));
    ObjectNode node = NODES.objectNode().put("type", type);
    if (parameter != null) node.put("parameter", parameter);
    if (target != null) node.put("target", target);
    if (expression != null) node.put("expression", expression);
    if (when != null) node.put("when", when);
    if (table != null) node.set("table", table);
    if (file != null) node.put("file", file);
    return node;
  }

  static JsonNode variantList(Fuzz f) {
    return switch (f.choice(3)) {
      case 0 -> com.fasterxml.jackson.databind.node.MissingNode.getInstance();
      case 1 -> NODES.arrayNode().addAll(f.list(0, 3, () -> variant(f)));
      default -> f.templateValue();
    };
  }

  private static JsonNode variant(Fuzz f) {
    String name = f.orNull(0.1, () -> f.of("a", "b", "", " "));
    JsonNode weight = f.orNull(0.1, f::smallValue);
    JsonNode qp = f.orNull(0.6, f::smallValue);
    ObjectNode node = NODES.objectNode();
    if (name != null) node.put("name", name);
    if (weight != null) node.set("weight", weight);
    if (qp != null) node.set("quality_parameters", qp);
    return node;
  }

  @Test
  void unparsableAndHugeFilesAreProblemsToo() {
    Fuzz.forAll(
        "unparsableAndHugeFilesAreProblemsToo",
        100,
        TemplateParserFuzzPropertyTest::rawFile,
        TemplateParserFuzzPropertyTest::unparsableAndHugeFilesAreProblemsToo);
  }

  private static void unparsableAndHugeFilesAreProblemsToo(String text) throws IOException {
    Path dir = root.resolve(names.get(0));
    Path file = dir.resolve("raw.json");
    Files.write(file, text.getBytes(StandardCharsets.UTF_8)); // a lone surrogate becomes '?'
    TemplateParser.Parsed parsed = parseOrFail(file, List.of());
    assertThat(parsed.ok()).isFalse();
    parsed.problems().forEach(p -> assertThat(p.path()).startsWith("$"));
  }

  private static TemplateParser.Parsed parseOrFail(Path file, List<Mutation> mutations) {
    try {
      return new TemplateParser(JSON).parse(file);
    } catch (
        Throwable e) { // StackOverflowError included: a template must never take the loader down
      return fail("parse threw for " + mutations + ":\n" + trace(e));
    }
  }

  private static void translateOrFail(FunctionTemplate template, List<Mutation> mutations) {
    TemplateTranslator translator = new TemplateTranslator(JSON);
    for (QualityTier tier : QualityTier.values()) {
      try {
        translator.translate(template, tier, Map.of(), "project", null);
      } catch (Expression.ExpressionException | TemplateTranslator.ModelFileMissing expected) {
        // the project's own errors: a computed value the defaults cannot compute, no model
      } catch (Throwable e) {
        fail("translate at " + tier + " threw for " + mutations + ":\n" + trace(e));
      }
    }
  }

  private static String trace(Throwable e) {
    StringWriter out = new StringWriter();
    e.printStackTrace(new PrintWriter(out));
    String text = out.toString();
    return text.length() > 3000 ? text.substring(0, 3000) : text;
  }

  // ----- mutations

  enum Kind {
    /** Replaces a field named like one the parser reads (type, enum, expression, …), if any. */
    REPLACE_FIELD,
    REPLACE,
    REMOVE,
    ADD_UNKNOWN_KEY,
    DUPLICATE
  }

  /** What to do at the {@code pick}-th node of the tree (modulo its size). */
  record Mutation(int pick, Kind kind, String field, JsonNode value) {

    void applyTo(ObjectNode tree) {
      List<Slot> slots = new ArrayList<>();
      collect(tree, "$", slots);
      if (kind == Kind.REPLACE_FIELD) {
        List<Slot> named = slots.stream().filter(s -> field.equals(s.field())).toList();
        if (!named.isEmpty()) {
          named.get(Math.floorMod(pick, named.size())).set(value);
        }
        return;
      }
      Slot slot = slots.get(Math.floorMod(pick, slots.size()));
      switch (kind) {
        case REPLACE -> slot.set(value);
        case REMOVE -> slot.remove();
        case ADD_UNKNOWN_KEY -> {
          if (slot.get() instanceof ObjectNode object) {
            object.set("fuzz_" + Math.floorMod(pick, 97), value);
          } else if (slot.get() instanceof ArrayNode array) {
            array.add(value);
          } else {
            slot.set(value);
          }
        }
        case DUPLICATE -> {
          if (slot.parent() instanceof ArrayNode array) {
            array.add(slot.get().deepCopy());
          } else {
            slot.set(NODES.arrayNode().add(slot.get().deepCopy()).add(slot.get().deepCopy()));
          }
        }
      }
    }

    @Override
    public String toString() {
      String shown = String.valueOf(value);
      return kind
          + "@"
          + (kind == Kind.REPLACE_FIELD ? field : String.valueOf(pick))
          + (kind == Kind.REMOVE || kind == Kind.DUPLICATE
              ? ""
              : " "
                  + (shown.length() > 100
                      ? shown.substring(0, 100) + "…(" + shown.length() + ")"
                      : shown));
    }
  }

  /** A place in the tree: a field of an object or an element of an array. */
  record Slot(JsonNode parent, String field, int index, String path) {
    JsonNode get() {
      return parent instanceof ObjectNode o ? o.get(field) : parent.get(index);
    }

    void set(JsonNode value) {
      if (parent instanceof ObjectNode o) {
        o.set(field, value);
      } else {
        ((ArrayNode) parent).set(index, value);
      }
    }

    void remove() {
      if (parent instanceof ObjectNode o) {
        o.remove(field);
      } else {
        ((ArrayNode) parent).remove(index);
      }
    }
  }

  private static void collect(JsonNode node, String path, List<Slot> out) {
    if (node instanceof ObjectNode object) {
      for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
        String field = it.next();
        out.add(new Slot(object, field, -1, path + "." + field));
        collect(object.get(field), path + "." + field, out);
      }
    } else if (node instanceof ArrayNode array) {
      for (int i = 0; i < array.size(); i++) {
        out.add(new Slot(array, null, i, path + "[" + i + "]"));
        collect(array.get(i), path + "[" + i + "]", out);
      }
    }
  }

  static List<Mutation> mutations(Fuzz f) {
    return f.list(1, 4, () -> mutation(f));
  }

  private static Mutation mutation(Fuzz f) {
    int pick = f.between(0, 10_000);
    Kind kind =
        switch (f.weighted(6, 6, 3, 1, 1)) {
          case 0 -> Kind.REPLACE_FIELD;
          case 1 -> Kind.REPLACE;
          case 2 -> Kind.REMOVE;
          case 3 -> Kind.ADD_UNKNOWN_KEY;
          default -> Kind.DUPLICATE;
        };
    String field =
        f.of(
            "type",
            "enum",
            "default",
            "min",
            "max",
            "required",
            "nullable",
            "expression",
            "when",
            "table",
            "target",
            "parameter",
            "file",
            "weight",
            "name",
            "variants",
            "timeout_seconds",
            "quality_parameters",
            "tiers",
            "parameters",
            "parameter_mapping",
            "graph",
            "command",
            "api_name",
            "outputs",
            "from",
            "steps",
            "model",
            "timeouts",
            "progress_messages",
            "id",
            "version");
    return new Mutation(pick, kind, field, f.templateValue());
  }

  static String rawFile(Fuzz f) {
    return switch (f.choice(5)) {
      case 0 -> f.string(60);
      case 1 -> f.of("", "null", "[]", "1", "\"x\"", "{", "{\"id\":", "{\"id\": 1e999999}");
      case 2 -> {
        int n = f.between(900, 3000);
        yield "[".repeat(n) + "]".repeat(n);
      }
      case 3 -> {
        int n = f.between(900, 3000);
        yield "{\"a\":".repeat(n) + "1" + "}".repeat(n);
      }
      default -> "{\"id\": \"" + "x".repeat(f.between(1, 200) * 1000) + "\"}";
    };
  }

  static {
    // the copies are read relative to the module; fail early and clearly if run from elsewhere
    if (!Files.isDirectory(SHIPPED)) {
      throw new UncheckedIOException(new IOException("no shipped templates at " + SHIPPED));
    }
  }
}
