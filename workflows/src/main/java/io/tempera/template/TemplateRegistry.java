package io.tempera.template;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.models.ModelCatalog;
import io.tempera.models.ModelSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The functions a template folder defines. Every {@code template.json} below the folder is one
 * function version; a bad file is reported and skipped and never hides the others. The models the
 * tiers run on are the entries of {@code models/<id>.json} ({@link ModelCatalog}); a template whose
 * tier names a model that is not loaded, or speaks another backend, is skipped. The folder is
 * re-read when any file in it changes (checked at most once per {@code recheckMillis}), so new
 * generations see edits within seconds without a restart.
 *
 * <p>ComfyUI templates are also checked against the node catalogue of the servers their tiers run
 * on ({@link NodeCatalogueSource}, {@link GraphValidator}): a template whose graph names a node
 * class, an input or a model file the server lacks (or gives a value it refuses) is loaded but
 * <em>unavailable</em> ({@link #unavailability}), with problems naming node, class and input; the
 * others stay available. The check runs again whenever the catalogue changes. Without a catalogue
 * (no server configured, or none has answered yet) templates are not failed for it.
 */
public final class TemplateRegistry {

  private static final Logger log = LoggerFactory.getLogger(TemplateRegistry.class);
  public static final String TEMPLATE_FILE = "template.json";

  /** The model registry's folder below the template root. */
  public static final String MODELS_DIR = "models";

  private final Path root;
  private final TemplateParser parser;
  private final ObjectMapper json;
  private final long recheckMillis;
  private final Clock clock;
  private final NodeCatalogueSource catalogues;
  private volatile Snapshot snapshot;
  private volatile long checkedAt;

  /**
   * What the folder held at one moment.
   *
   * @param nodeProblems what the node catalogue check found (blocking ones and warnings)
   * @param unavailable the blocking node problems of each unavailable version, by {@code
   *     id@version}
   * @param catalogues the catalogues the templates were checked against, by model id ("" for tiers
   *     without a model), to notice when they change
   */
  public record Snapshot(
      Map<String, List<FunctionTemplate>> versionsById,
      List<TemplateProblem> problems,
      String fingerprint,
      Map<String, ModelSpec> models,
      List<NodeProblem> nodeProblems,
      Map<String, List<NodeProblem>> unavailable,
      Map<String, Optional<NodeCatalogue>> catalogues) {}

  /** A template version that loaded but cannot run on its servers, and why. */
  public record Unavailable(FunctionTemplate template, List<NodeProblem> problems) {}

  public TemplateRegistry(Path root, ObjectMapper json, long recheckMillis) {
    this(root, json, recheckMillis, NodeCatalogueSource.NONE);
  }

  /** A registry that checks ComfyUI templates against the servers' node catalogues. */
  public TemplateRegistry(
      Path root, ObjectMapper json, long recheckMillis, NodeCatalogueSource catalogues) {
    this(root, json, recheckMillis, Clock.systemUTC(), catalogues);
  }

  TemplateRegistry(Path root, ObjectMapper json, long recheckMillis, Clock clock) {
    this(root, json, recheckMillis, clock, NodeCatalogueSource.NONE);
  }

  TemplateRegistry(
      Path root,
      ObjectMapper json,
      long recheckMillis,
      Clock clock,
      NodeCatalogueSource catalogues) {
    this.root = root.toAbsolutePath().normalize();
    this.parser = new TemplateParser(json);
    this.json = json;
    this.recheckMillis = recheckMillis;
    this.clock = clock;
    this.catalogues = catalogues == null ? NodeCatalogueSource.NONE : catalogues;
    this.snapshot = load(fingerprint());
    this.checkedAt = clock.millis();
  }

  public Path root() {
    return root;
  }

  /** The current snapshot, re-read first if the folder changed. */
  public Snapshot snapshot() {
    long now = clock.millis();
    if (now - checkedAt >= recheckMillis) {
      synchronized (this) {
        if (now - checkedAt >= recheckMillis) {
          String fingerprint = fingerprint();
          if (!fingerprint.equals(snapshot.fingerprint())) {
            catalogues.refreshSoon();
            snapshot = load(fingerprint);
          } else if (!catalogues(snapshot.models()).equals(snapshot.catalogues())) {
            log.info("a node catalogue changed: checking the templates against it again");
            snapshot = load(fingerprint);
          }
          checkedAt = clock.millis();
        }
      }
    }
    return snapshot;
  }

  /** The newest version of a function. */
  public Optional<FunctionTemplate> find(String id) {
    List<FunctionTemplate> versions = snapshot().versionsById().get(id);
    return versions == null ? Optional.empty() : Optional.of(versions.get(versions.size() - 1));
  }

  /** One version of a function, or the newest when {@code version} is null. */
  public Optional<FunctionTemplate> find(String id, String version) {
    if (version == null) {
      return find(id);
    }
    List<FunctionTemplate> versions = snapshot().versionsById().get(id);
    return versions == null
        ? Optional.empty()
        : versions.stream().filter(t -> t.version().equals(version)).findFirst();
  }

  /** The newest version of every function, by id. */
  public List<FunctionTemplate> functions() {
    return snapshot().versionsById().values().stream().map(v -> v.get(v.size() - 1)).toList();
  }

  /**
   * What is wrong with the template files: those skipped (unreadable, invalid) and, for ComfyUI
   * templates, what the node catalogue check found (why a function is unavailable, and warnings).
   */
  public List<TemplateProblem> problems() {
    return snapshot().problems();
  }

  /** Everything the node catalogue check found, blocking problems and warnings. */
  public List<NodeProblem> nodeProblems() {
    return snapshot().nodeProblems();
  }

  /**
   * Why this template version cannot run on its servers (empty: it can, as far as their node
   * catalogues tell): a node class, input or model file they lack, or a value they refuse.
   */
  public List<NodeProblem> unavailability(FunctionTemplate template) {
    return snapshot().unavailable().getOrDefault(key(template), List.of());
  }

  /** True unless the node catalogue check found the template cannot run. */
  public boolean available(FunctionTemplate template) {
    return unavailability(template).isEmpty();
  }

  /** Every loaded template version that cannot run on its servers, with why. */
  public List<Unavailable> unavailable() {
    Snapshot s = snapshot();
    return s.versionsById().values().stream()
        .flatMap(List::stream)
        .filter(t -> s.unavailable().containsKey(key(t)))
        .map(t -> new Unavailable(t, s.unavailable().get(key(t))))
        .toList();
  }

  private static String key(FunctionTemplate template) {
    return template.id() + "@" + template.version();
  }

  /** A model registry entry by id (e.g. a fallback's). */
  public Optional<ModelSpec> model(String id) {
    return id == null ? Optional.empty() : Optional.ofNullable(snapshot().models().get(id));
  }

  /** The model a function's tier runs on (empty: the worker's configured backend). */
  public Optional<ModelSpec> model(FunctionTemplate template, QualityTier tier) {
    TierConfig config = template.tierConfigs().get(tier);
    return config == null ? Optional.empty() : model(config.model());
  }

  /** Every loaded model registry entry, by id. */
  public Map<String, ModelSpec> models() {
    return snapshot().models();
  }

  private Snapshot load(String fingerprint) {
    Map<String, List<FunctionTemplate>> byId = new TreeMap<>();
    List<TemplateProblem> problems = new ArrayList<>();
    ModelCatalog catalog = ModelCatalog.load(root.resolve(MODELS_DIR), json);
    problems.addAll(catalog.problems());
    catalog.problems().forEach(p -> log.warn("model skipped: {}", p));
    for (Path file : templateFiles()) {
      TemplateParser.Parsed parsed = parser.parse(file);
      if (parsed.ok()) {
        parsed = withModels(parsed.template(), catalog.models());
      }
      if (!parsed.ok()) {
        problems.addAll(parsed.problems());
        parsed.problems().forEach(p -> log.warn("template skipped: {}", p));
        continue;
      }
      FunctionTemplate template = parsed.template();
      List<FunctionTemplate> versions = byId.computeIfAbsent(template.id(), k -> new ArrayList<>());
      if (versions.stream().anyMatch(t -> t.version().equals(template.version()))) {
        TemplateProblem p =
            new TemplateProblem(
                file.toString(),
                "$.version",
                "version "
                    + template.version()
                    + " of '"
                    + template.id()
                    + "' is defined twice; this copy is skipped");
        problems.add(p);
        log.warn("template skipped: {}", p);
        continue;
      }
      versions.add(template);
      versions.sort(
          Comparator.comparing(FunctionTemplate::version, TemplateRegistry::compareVersions));
    }
    byId.replaceAll((k, v) -> List.copyOf(v));
    Map<String, Optional<NodeCatalogue>> used = catalogues(catalog.models());
    List<NodeProblem> nodeProblems = new ArrayList<>();
    Map<String, List<NodeProblem>> unavailable = new TreeMap<>();
    for (List<FunctionTemplate> versions : byId.values()) {
      for (FunctionTemplate template : versions) {
        List<NodeProblem> found =
            GraphValidator.validate(
                template, tier -> catalogueOf(template, tier, used), catalog.models());
        nodeProblems.addAll(found);
        List<NodeProblem> blocking = found.stream().filter(NodeProblem::blocking).toList();
        if (!blocking.isEmpty()) {
          unavailable.put(key(template), blocking);
          log.warn(
              "function {} {} is unavailable: {}{}",
              template.id(),
              template.version(),
              blocking.get(0).reason(),
              blocking.size() > 1 ? " (and " + (blocking.size() - 1) + " more problems)" : "");
        }
        found.stream()
            .filter(p -> !p.blocking())
            .forEach(p -> log.warn("function {} {}: {}", template.id(), template.version(), p));
      }
    }
    nodeProblems.forEach(p -> problems.add(p.toTemplateProblem()));
    log.info(
        "templates loaded from {}: {} functions ({} unavailable), {} models, {} problems; {}",
        root,
        byId.size(),
        unavailable.size(),
        catalog.models().size(),
        problems.size(),
        used.getOrDefault("", Optional.empty())
            .map(c -> "checked against the node catalogue of " + c.source())
            .orElse("no node catalogue to check ComfyUI graphs against"));
    return new Snapshot(
        Map.copyOf(byId),
        List.copyOf(problems),
        fingerprint,
        catalog.models(),
        List.copyOf(nodeProblems),
        Map.copyOf(unavailable),
        used);
  }

  /**
   * The catalogue each model's tiers (and, under "", tiers without a model) are checked against.
   */
  private Map<String, Optional<NodeCatalogue>> catalogues(Map<String, ModelSpec> models) {
    Map<String, Optional<NodeCatalogue>> out = new TreeMap<>();
    out.put("", catalogues.catalogueFor(null));
    models.forEach((id, model) -> out.put(id, catalogues.catalogueFor(model)));
    return Map.copyOf(out);
  }

  private static Optional<NodeCatalogue> catalogueOf(
      FunctionTemplate template, QualityTier tier, Map<String, Optional<NodeCatalogue>> used) {
    TierConfig config = template.tierConfigs().get(tier);
    String model = config == null || config.model() == null ? "" : config.model();
    return used.getOrDefault(model, Optional.empty());
  }

  /**
   * Checks the models the template's tiers name (loaded, same backend, the tier's VRAM enough for
   * the model) and makes a tier without its own {@code vram_mb} need what its model needs.
   */
  private static TemplateParser.Parsed withModels(
      FunctionTemplate template, Map<String, ModelSpec> models) {
    List<TemplateProblem> problems = new ArrayList<>();
    Map<QualityTier, TierConfig> tiers = new java.util.EnumMap<>(QualityTier.class);
    for (Map.Entry<QualityTier, TierConfig> e : template.tierConfigs().entrySet()) {
      TierConfig config = e.getValue();
      String path = "$.tiers." + e.getKey().id() + ".model";
      if (config.model() != null) {
        ModelSpec model = models.get(config.model());
        if (model == null) {
          problems.add(
              new TemplateProblem(
                  template.sourceFile(),
                  path,
                  "names no loaded model: '"
                      + config.model()
                      + "' (models are the files "
                      + MODELS_DIR
                      + "/<id>.json)"));
          continue;
        }
        if (!model.backendType().equals(template.backendType())) {
          problems.add(
              new TemplateProblem(
                  template.sourceFile(),
                  path,
                  "model '"
                      + model.id()
                      + "' speaks "
                      + model.backendType()
                      + ", but this template's backend is "
                      + template.backendType()));
          continue;
        }
        if (config.vramMb() == null && model.vramMb() > 0) {
          config = config.withVramMb(model.vramMb());
        } else if (config.vramMb() != null && config.vramMb() < model.vramMb()) {
          problems.add(
              new TemplateProblem(
                  template.sourceFile(),
                  "$.tiers." + e.getKey().id() + ".vram_mb",
                  config.vramMb()
                      + " MB is less than model '"
                      + model.id()
                      + "' needs ("
                      + model.vramMb()
                      + " MB)"));
          continue;
        }
      }
      tiers.put(e.getKey(), config);
    }
    problems.addAll(modelFileProblems(template, models));
    if (!problems.isEmpty()) {
      return new TemplateParser.Parsed(null, List.copyOf(problems));
    }
    FunctionTemplate t = template;
    return new TemplateParser.Parsed(
        new FunctionTemplate(
            t.id(),
            t.version(),
            t.displayName(),
            t.category(),
            t.icon(),
            t.description(),
            t.backendType(),
            t.graph(),
            t.timeoutSeconds(),
            t.parameters(),
            t.mappings(),
            t.qualityParameters(),
            t.sourceFile(),
            t.progressMessages(),
            tiers,
            t.variants(),
            t.timeouts()),
        List.of());
  }

  /**
   * A {@code model_file} mapping writes the file of the model each tier runs on: every tier needs a
   * model naming that kind of file, and so does every fallback down its chain.
   */
  private static List<TemplateProblem> modelFileProblems(
      FunctionTemplate template, Map<String, ModelSpec> models) {
    List<TemplateProblem> problems = new ArrayList<>();
    for (int i = 0; i < template.mappings().size(); i++) {
      ParameterMapping mapping = template.mappings().get(i);
      if (!ParameterMapping.MODEL_FILE.equals(mapping.type())) {
        continue;
      }
      String kind = mapping.modelFile();
      for (QualityTier tier : QualityTier.values()) {
        TierConfig config = template.tierConfigs().get(tier);
        if (config == null || config.model() == null) {
          problems.add(
              new TemplateProblem(
                  template.sourceFile(),
                  "$.parameter_mapping[" + i + "]",
                  "writes the "
                      + kind
                      + " file of the model the tier runs on, but tier '"
                      + tier.id()
                      + "' names no model: give it one (tiers."
                      + tier.id()
                      + ".model)"));
          continue;
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (ModelSpec model = models.get(config.model());
            model != null && seen.add(model.id());
            model = model.fallback() == null ? null : models.get(model.fallback())) {
          if (!model.files().containsKey(kind)) {
            problems.add(
                new TemplateProblem(
                    template.sourceFile(),
                    "$.tiers." + tier.id() + ".model",
                    "model '"
                        + model.id()
                        + "'"
                        + (model.id().equals(config.model())
                            ? ""
                            : " (a fallback of '" + config.model() + "')")
                        + " names no "
                        + kind
                        + " file, which parameter_mapping["
                        + i
                        + "] writes into the graph"));
            break;
          }
        }
      }
    }
    return problems;
  }

  private List<Path> templateFiles() {
    if (!Files.isDirectory(root)) {
      log.warn("template folder {} does not exist", root);
      return List.of();
    }
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(p -> p.getFileName().toString().equals(TEMPLATE_FILE)).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read template folder " + root, e);
    }
  }

  /** Names, sizes and modification times of every file below the root. */
  private String fingerprint() {
    if (!Files.isDirectory(root)) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> files = Files.walk(root)) {
      files
          .filter(Files::isRegularFile)
          .sorted()
          .forEach(p -> {
            try {
              BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
              sb.append(p)
                  .append(':')
                  .append(a.size())
                  .append(':')
                  .append(a.lastModifiedTime().toMillis())
                  .append('\n');
            } catch (IOException e) {
              sb.append(p).append(":gone\n");
            }
          });
    } catch (IOException | UncheckedIOException e) {
      return "unreadable:" + clock.millis();
    }
    return sb.toString();
  }

  /** Compares dotted versions numerically where both parts are numbers (1.10 > 1.9). */
  static int compareVersions(String a, String b) {
    String[] x = a.split("[.-]", -1);
    String[] y = b.split("[.-]", -1);
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      String p =
          i < x.length && !x[i].isEmpty() ? x[i] : "0"; // a missing or empty part counts as 0
      String q = i < y.length && !y[i].isEmpty() ? y[i] : "0";
      int c;
      if (p.matches("\\d{1,18}") && q.matches("\\d{1,18}")) {
        c = Long.compare(Long.parseLong(p), Long.parseLong(q));
      } else {
        c = p.compareTo(q);
      }
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }
}
