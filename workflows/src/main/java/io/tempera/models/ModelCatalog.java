package io.tempera.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.TemplateProblem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The model registry as one folder held it: every {@code <id>.json} in it, each checked on its own
 * and then against the others (a fallback must name a loaded model of the same backend and must not
 * lead back to where it started). A bad entry is reported and skipped; entries whose fallback was
 * skipped are skipped too, so every loaded fallback chain ends at a loaded model.
 */
public record ModelCatalog(Map<String, ModelSpec> models, List<TemplateProblem> problems) {

  public static final ModelCatalog EMPTY = new ModelCatalog(Map.of(), List.of());

  public ModelCatalog {
    models = Map.copyOf(models);
    problems = List.copyOf(problems);
  }

  public static ModelCatalog load(Path folder, ObjectMapper json) {
    if (!Files.isDirectory(folder)) {
      return EMPTY;
    }
    List<Path> files;
    try (Stream<Path> list = Files.list(folder)) {
      files =
          list.filter(p -> p.getFileName().toString().endsWith(".json") && Files.isRegularFile(p))
              .sorted()
              .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model folder " + folder, e);
    }
    ModelParser parser = new ModelParser(json);
    Map<String, ModelSpec> models = new TreeMap<>();
    Map<String, String> fileOf = new TreeMap<>();
    List<TemplateProblem> problems = new ArrayList<>();
    for (Path file : files) {
      ModelParser.Parsed parsed = parser.parse(file);
      if (parsed.ok()) {
        models.put(parsed.model().id(), parsed.model());
        fileOf.put(parsed.model().id(), file.toString());
      } else {
        problems.addAll(parsed.problems());
      }
    }
    // Cycles first: every model on a cycle is skipped.
    Set<String> onCycle = new LinkedHashSet<>();
    for (String start : models.keySet()) {
      Set<String> seen = new LinkedHashSet<>();
      String at = start;
      while (at != null && models.containsKey(at) && seen.add(at)) {
        at = models.get(at).fallback();
      }
      if (start.equals(at)) {
        onCycle.add(start);
        problems.add(
            new TemplateProblem(
                fileOf.get(start),
                "$.fallback",
                "fallbacks form a cycle: "
                    + String.join(" -> ", seen)
                    + " -> "
                    + start
                    + "; this model is skipped"));
      }
    }
    onCycle.forEach(models::remove);
    // Then missing or mismatched fallbacks, until what is left is closed.
    boolean changed = true;
    while (changed) {
      changed = false;
      for (ModelSpec model : List.copyOf(models.values())) {
        if (model.fallback() == null) {
          continue;
        }
        ModelSpec target = models.get(model.fallback());
        String reason = null;
        if (target == null) {
          reason = "names no loaded model: '" + model.fallback() + "'";
        } else if (!target.backendType().equals(model.backendType())) {
          reason =
              "'"
                  + model.fallback()
                  + "' speaks "
                  + target.backendType()
                  + ", but '"
                  + model.id()
                  + "' speaks "
                  + model.backendType();
        }
        if (reason != null) {
          problems.add(
              new TemplateProblem(
                  fileOf.get(model.id()), "$.fallback", reason + "; this model is skipped"));
          models.remove(model.id());
          changed = true;
        }
      }
    }
    return new ModelCatalog(models, problems);
  }
}
