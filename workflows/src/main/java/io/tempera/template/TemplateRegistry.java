package io.tempera.template;

import com.fasterxml.jackson.databind.ObjectMapper;
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
 * function version; a bad file is reported and skipped and never hides the others. The folder is
 * re-read when any file in it changes (checked at most once per {@code recheckMillis}), so new
 * generations see edits within seconds without a restart.
 */
public final class TemplateRegistry {

  private static final Logger log = LoggerFactory.getLogger(TemplateRegistry.class);
  public static final String TEMPLATE_FILE = "template.json";

  private final Path root;
  private final TemplateParser parser;
  private final long recheckMillis;
  private final Clock clock;
  private volatile Snapshot snapshot;
  private volatile long checkedAt;

  /** What the folder held at one moment. */
  public record Snapshot(
      Map<String, List<FunctionTemplate>> versionsById, List<TemplateProblem> problems, String fingerprint) {}

  public TemplateRegistry(Path root, ObjectMapper json, long recheckMillis) {
    this(root, json, recheckMillis, Clock.systemUTC());
  }

  TemplateRegistry(Path root, ObjectMapper json, long recheckMillis, Clock clock) {
    this.root = root.toAbsolutePath().normalize();
    this.parser = new TemplateParser(json);
    this.recheckMillis = recheckMillis;
    this.clock = clock;
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

  public List<TemplateProblem> problems() {
    return snapshot().problems();
  }

  private Snapshot load(String fingerprint) {
    Map<String, List<FunctionTemplate>> byId = new TreeMap<>();
    List<TemplateProblem> problems = new ArrayList<>();
    for (Path file : templateFiles()) {
      TemplateParser.Parsed parsed = parser.parse(file);
      if (!parsed.ok()) {
        problems.addAll(parsed.problems());
        parsed.problems().forEach(p -> log.warn("template skipped: {}", p));
        continue;
      }
      FunctionTemplate template = parsed.template();
      List<FunctionTemplate> versions = byId.computeIfAbsent(template.id(), k -> new ArrayList<>());
      if (versions.stream().anyMatch(t -> t.version().equals(template.version()))) {
        TemplateProblem p =
            new TemplateProblem(file.toString(), "$.version", "version " + template.version() + " of '" + template.id() + "' is defined twice; this copy is skipped");
        problems.add(p);
        log.warn("template skipped: {}", p);
        continue;
      }
      versions.add(template);
      versions.sort(Comparator.comparing(FunctionTemplate::version, TemplateRegistry::compareVersions));
    }
    byId.replaceAll((k, v) -> List.copyOf(v));
    log.info("templates loaded from {}: {} functions, {} problems", root, byId.size(), problems.size());
    return new Snapshot(Map.copyOf(byId), List.copyOf(problems), fingerprint);
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
      files.filter(Files::isRegularFile).sorted().forEach(p -> {
        try {
          BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
          sb.append(p).append(':').append(a.size()).append(':').append(a.lastModifiedTime().toMillis()).append('\n');
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
    String[] x = a.split("[.-]");
    String[] y = b.split("[.-]");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      String p = i < x.length ? x[i] : "0";
      String q = i < y.length ? y[i] : "0";
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
