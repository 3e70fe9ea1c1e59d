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
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * TemplateParser on mutated copies of the shipped templates (fields of the wrong type, required
 * ones removed, huge numbers, deep nesting, hostile strings, broken expressions): it never throws,
 * only returns problems that name the file and a JSON path; and a template it accepts translates at
 * every tier without anything but the project's own errors.
 */
class TemplateParserFuzzPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final Path SHIPPED = Path.of("../templates/functions");

  private static Path root;
  private static List<String> names;

  @BeforeContainer
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

  @AfterContainer
  static void removeTheCopies() throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  @Property(tries = 300)
  void mutatedTemplatesGiveProblemsWithAPathNeverAnException(
      @ForAll("templates") String name, @ForAll("mutations") List<Mutation> mutations)
      throws IOException {
    Path dir = root.resolve(name);
    ObjectNode template = (ObjectNode) JSON.readTree(dir.resolve("template.json").toFile());
    for (Mutation mutation : mutations) {
      mutation.applyTo(template);
    }
    Path file = dir.resolve("mutated.json");
    Files.write(file, JSON.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
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

  @Property(tries = 300)
  void arbitraryParametersMappingsAndVariantsGiveProblemsNeverAnException(
      @ForAll("templates") String name,
      @ForAll("parameterSpecs") List<JsonNode> specs,
      @ForAll("mappingEntries") List<JsonNode> mappings,
      @ForAll("variantLists") JsonNode variants)
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
    Files.write(file, JSON.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
    TemplateParser.Parsed parsed = parseOrFail(file, described);
    if (parsed.ok()) {
      translateOrFail(parsed.template(), described);
    } else {
      assertThat(parsed.template()).isNull();
      parsed.problems().forEach(p -> assertThat(p.path()).startsWith("$"));
    }
  }

  @Property(tries = 100)
  void wholeNumbersBeyondTheirRangeAreRefusedNotWrapped(
      @ForAll("outOfRange") JsonNode number, @ForAll("numericFields") String field)
      throws IOException {
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
    Files.write(file, JSON.writeValueAsString(template).getBytes(StandardCharsets.UTF_8));
    TemplateParser.Parsed parsed = parseOrFail(file, List.of());
    assertThat(parsed.problems()).extracting(TemplateProblem::path).contains(path);
  }

  @Provide
  Arbitrary<JsonNode> outOfRange() {
    return Arbitraries.oneOf(
        Arbitraries.of(0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 4_294_967_297L, 4_294_967_296L)
            .map(NODES::numberNode),
        Arbitraries.bigIntegers()
            .between(BigInteger.TWO.pow(64), BigInteger.TWO.pow(70))
            .map(b -> b.subtract(b.mod(BigInteger.TWO.pow(64))).add(BigInteger.ONE))
            .map(NODES::numberNode),
        Arbitraries.of(0.5, 1e300, -3.0).map(NODES::numberNode));
  }

  @Provide
  Arbitrary<String> numericFields() {
    return Arbitraries.of(
        "weight",
        "timeout_seconds",
        "stall_seconds",
        "steps",
        "resolution",
        "vram_mb",
        "max_concurrent");
  }

  @Provide
  Arbitrary<List<JsonNode>> parameterSpecs() {
    Arbitrary<JsonNode> anyScalar = smallValues();
    Arbitrary<JsonNode> spec =
        Combinators.combine(
                Arbitraries.of(
                    "string", "integer", "number", "boolean", "image", "float", "", "Integer"),
                anyScalar.injectNull(0.5),
                anyScalar.injectNull(0.6),
                anyScalar.injectNull(0.6),
                anyScalar.list().ofMaxSize(4).injectNull(0.6),
                anyScalar.injectNull(0.5),
                anyScalar.injectNull(0.5))
            .as((type, def, min, max, choices, nullable, required) -> {
              ObjectNode node = NODES.objectNode().put("type", type);
              if (def != null) node.set("default", def);
              if (min != null) node.set("min", min);
              if (max != null) node.set("max", max);
              if (choices != null) node.set("enum", NODES.arrayNode().addAll(choices));
              if (nullable != null) node.set("nullable", nullable);
              if (required != null) node.set("required", required);
              return node;
            });
    return Arbitraries.oneOf(spec, values()).list().ofMaxSize(3);
  }

  @Provide
  Arbitrary<List<JsonNode>> mappingEntries() {
    Arbitrary<JsonNode> mapping =
        Combinators.combine(
                Arbitraries.of(
                    "direct", "lookup", "computed", "file_upload", "model_file", "seed", ""),
                Arbitraries.of("mood", "scale", "prompt", "size", "seed", "image", "fuzz0", "tier")
                    .injectNull(0.3),
                Arbitraries.of(
                        "1.inputs.width",
                        "3.inputs.seed",
                        "steps",
                        "0",
                        "prompt",
                        "1.inputs.",
                        ".inputs.x",
                        "1.inputs.nope",
                        "$gradio.inputs.x")
                    .injectNull(0.1),
                expressions().injectNull(0.5),
                expressions().injectNull(0.8),
                smallValues().injectNull(0.5),
                Arbitraries.of("checkpoints", "../x", "", "vae").injectNull(0.8))
            .as((type, parameter, target, expression, when, table, file) -> {
              ObjectNode node = NODES.objectNode().put("type", type);
              if (parameter != null) node.put("parameter", parameter);
              if (target != null) node.put("target", target);
              if (expression != null) node.put("expression", expression);
              if (when != null) node.put("when", when);
              if (table != null) node.set("table", table);
              if (file != null) node.put("file", file);
              return node;
            });
    return mapping.list().ofMaxSize(3);
  }

  @Provide
  Arbitrary<JsonNode> variantLists() {
    Arbitrary<JsonNode> variant =
        Combinators.combine(
                Arbitraries.of("a", "b", "", " ").injectNull(0.1),
                smallValues().injectNull(0.1),
                smallValues().injectNull(0.6))
            .as((name, weight, qp) -> {
              ObjectNode node = NODES.objectNode();
              if (name != null) node.put("name", name);
              if (weight != null) node.set("weight", weight);
              if (qp != null) node.set("quality_parameters", qp);
              return node;
            });
    return Arbitraries.oneOf(
        Arbitraries.just(com.fasterxml.jackson.databind.node.MissingNode.getInstance()),
        variant.list().ofMaxSize(3).map(l -> (JsonNode) NODES.arrayNode().addAll(l)),
        values());
  }

  /** Mostly plausible, sometimes wrong, values for one field. */
  static Arbitrary<JsonNode> smallValues() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            NODES.nullNode(),
            NODES.booleanNode(true),
            NODES.booleanNode(false),
            NODES.numberNode(1),
            NODES.numberNode(50),
            NODES.numberNode(-3),
            NODES.numberNode(2.5),
            NODES.numberNode(4_294_967_297L),
            NODES.numberNode(BigInteger.TWO.pow(64).add(BigInteger.ONE)),
            NODES.numberNode(1e308),
            NODES.textNode("calm"),
            NODES.textNode("x"),
            NODES.textNode(""),
            NODES.textNode("uploads/a.png"),
            NODES.objectNode(),
            NODES.objectNode().put("calm", 1).put("warm", 2).put("night", 3),
            NODES.objectNode().set("draft", NODES.objectNode().put("1.inputs.width", 8)),
            NODES.arrayNode(),
            NODES.arrayNode().addNull()),
        Arbitraries.integers().map(NODES::numberNode));
  }

  @Property(tries = 100)
  void unparsableAndHugeFilesAreProblemsToo(@ForAll("rawFiles") String text) throws IOException {
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

  @Provide
  Arbitrary<String> templates() {
    return Arbitraries.of(names);
  }

  @Provide
  Arbitrary<List<Mutation>> mutations() {
    Arbitrary<Mutation> one =
        Combinators.combine(
                Arbitraries.integers().between(0, 10_000),
                Arbitraries.frequencyOf(
                    net.jqwik.api.Tuple.of(6, Arbitraries.just(Kind.REPLACE_FIELD)),
                    net.jqwik.api.Tuple.of(6, Arbitraries.just(Kind.REPLACE)),
                    net.jqwik.api.Tuple.of(3, Arbitraries.just(Kind.REMOVE)),
                    net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.ADD_UNKNOWN_KEY)),
                    net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.DUPLICATE))),
                Arbitraries.of(
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
                    "version"),
                values())
            .as(Mutation::new);
    return one.list().ofMinSize(1).ofMaxSize(4);
  }

  /** Values that are wrong in interesting ways for some field of a template. */
  static Arbitrary<JsonNode> values() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            NODES.nullNode(),
            NODES.booleanNode(true),
            NODES.booleanNode(false),
            NODES.numberNode(0),
            NODES.numberNode(-1),
            NODES.numberNode(1),
            NODES.numberNode(0.5),
            NODES.numberNode(Long.MAX_VALUE),
            NODES.numberNode(Long.MIN_VALUE),
            NODES.numberNode(Integer.MAX_VALUE + 2L),
            NODES.numberNode(4_294_967_297L), // 2^32 + 1: asInt() would read 1
            NODES.numberNode(1e308),
            NODES.numberNode(-1e308),
            NODES.numberNode(BigInteger.TEN.pow(40)),
            NODES.numberNode(BigInteger.TWO.pow(64).add(BigInteger.ONE)),
            NODES.textNode(""),
            NODES.textNode(" "),
            NODES.textNode("string"),
            NODES.textNode("integer"),
            NODES.textNode("image"),
            NODES.textNode("lookup"),
            NODES.textNode("computed"),
            NODES.textNode("model_file"),
            NODES.textNode("file_upload"),
            NODES.textNode("1.inputs.width"),
            NODES.textNode("999.inputs.x"),
            NODES.textNode(".inputs."),
            NODES.textNode("../../etc/passwd"),
            NODES.textNode("/etc/passwd"),
            NODES.textNode("${jndi:ldap://x}"),
            NODES.textNode("{\"a\": 1}"),
            NODES.textNode("draft"),
            NODES.textNode("tier"),
            NODES.objectNode(),
            NODES.arrayNode(),
            NODES.arrayNode().addNull(),
            NODES.arrayNode().addNull().add("a").add(1),
            NODES.objectNode().putNull("type"),
            NODES.objectNode().put("type", "integer").put("min", 5).put("max", 1),
            NODES.objectNode().put("type", "string").set("enum", NODES.arrayNode().addNull()),
            NODES.objectNode().put("type", "integer").put("default", 1e300)),
        expressions().map(NODES::textNode),
        Arbitraries.strings().all().ofMaxLength(40).map(NODES::textNode),
        Arbitraries.integers().between(1, 3000).map(n -> NODES.textNode("x".repeat(n * 100))),
        Arbitraries.integers().between(1, 900).map(TemplateParserFuzzPropertyTest::nested));
  }

  /** Expression-shaped text: the grammar's pieces in any order, and very deep nesting. */
  static Arbitrary<String> expressions() {
    Arbitrary<String> tokens =
        Arbitraries.of(
            "(",
            ")",
            "+",
            "-",
            "*",
            "/",
            "%",
            "?",
            ":",
            "!",
            "&&",
            "||",
            "<",
            ">=",
            "==",
            "!=",
            "'",
            "'a'",
            "1",
            "0",
            "2.5",
            "1e5",
            "99999999999999999999",
            "..",
            "tier",
            "scale",
            "mood",
            "size",
            "soft",
            "width",
            "min(",
            "max(",
            "round(",
            "abs(",
            ",",
            "system(",
            "\u0661",
            " ");
    return Arbitraries.oneOf(
        tokens.list().ofMinSize(1).ofMaxSize(12).map(l -> String.join("", l)),
        Arbitraries.integers().between(1, 20_000).map(n -> "(".repeat(n) + "1" + ")".repeat(n)),
        Arbitraries.integers().between(1, 20_000).map(n -> "-".repeat(n) + "1"),
        Arbitraries.integers().between(1, 20_000).map(n -> "!".repeat(n) + "soft"),
        Arbitraries.integers()
            .between(1, 5_000)
            .map(n -> "1 ? ".repeat(n) + "1" + " : 0".repeat(n)),
        Arbitraries.integers().between(1, 5_000).map(n -> "abs(".repeat(n) + "1" + ")".repeat(n)));
  }

  /** Arrays in arrays, n deep: Jackson refuses beyond 1000 on reading. */
  private static JsonNode nested(int depth) {
    JsonNode node = NODES.numberNode(1);
    for (int i = 0; i < depth; i++) {
      node = NODES.arrayNode().add(node);
    }
    return node;
  }

  @Provide
  Arbitrary<String> rawFiles() {
    return Arbitraries.oneOf(
        Arbitraries.strings().all().ofMaxLength(60),
        Arbitraries.of("", "null", "[]", "1", "\"x\"", "{", "{\"id\":", "{\"id\": 1e999999}"),
        Arbitraries.integers().between(900, 3000).map(n -> "[".repeat(n) + "]".repeat(n)),
        Arbitraries.integers()
            .between(900, 3000)
            .map(n -> "{\"a\":".repeat(n) + "1" + "}".repeat(n)),
        Arbitraries.integers()
            .between(1, 200)
            .map(n -> "{\"id\": \"" + "x".repeat(n * 1000) + "\"}"));
  }

  static {
    // the copies are read relative to the module; fail early and clearly if run from elsewhere
    if (!Files.isDirectory(SHIPPED)) {
      throw new UncheckedIOException(new IOException("no shipped templates at " + SHIPPED));
    }
  }
}
