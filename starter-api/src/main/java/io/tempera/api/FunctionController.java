package io.tempera.api;

import io.tempera.template.FunctionTemplate;
import io.tempera.template.ParameterSpec;
import io.tempera.template.QualityTier;
import io.tempera.template.TemplateProblem;
import io.tempera.template.TemplateRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** The functions the canvas can offer, straight from the templates folder. */
@RestController
@RequestMapping("/api/functions")
public class FunctionController {

  private final TemplateRegistry templates;

  public FunctionController(TemplateRegistry templates) {
    this.templates = templates;
  }

  @GetMapping
  public List<ApiMessages.Function> list() {
    return templates.functions().stream().map(FunctionController::describe).toList();
  }

  @GetMapping("/{id}")
  public ApiMessages.Function one(@PathVariable String id) {
    return templates
        .find(id)
        .map(FunctionController::describe)
        .orElseThrow(() -> ApiException.notFound("There is no function '" + id + "'"));
  }

  /** For template authors: the template files that were skipped, and why. */
  @GetMapping("/problems")
  public List<TemplateProblem> problems() {
    return templates.problems();
  }

  static ApiMessages.Function describe(FunctionTemplate t) {
    Map<String, Object> properties = new LinkedHashMap<>();
    List<String> required = new ArrayList<>();
    for (ParameterSpec p : t.parameters().values()) {
      Map<String, Object> schema = new LinkedHashMap<>();
      schema.put("type", p.type().equals("image") ? "string" : p.type());
      if (p.type().equals("image")) {
        schema.put("format", "project-file");
        schema.put("contentMediaType", "image/*");
      }
      if (p.defaultValue() != null) schema.put("default", p.defaultValue());
      if (p.min() != null) schema.put("minimum", p.min());
      if (p.max() != null) schema.put("maximum", p.max());
      if (!p.enumValues().isEmpty()) schema.put("enum", p.enumValues());
      if (p.description() != null) schema.put("description", p.description());
      properties.put(p.name(), schema);
      if (p.required() && p.defaultValue() == null) {
        required.add(p.name());
      }
    }
    Map<String, Object> schema = new LinkedHashMap<>();
    schema.put("type", "object");
    schema.put("properties", properties);
    schema.put("required", required);
    schema.put("additionalProperties", false);
    return new ApiMessages.Function(
        t.id(),
        t.version(),
        t.displayName(),
        t.category(),
        t.icon(),
        t.description(),
        t.backendType(),
        Arrays.stream(QualityTier.values()).map(QualityTier::id).toList(),
        schema,
        t.tierConfigs().entrySet().stream()
            .collect(
                java.util.stream.Collectors.toMap(
                    e -> e.getKey().id(),
                    Map.Entry::getValue,
                    (a, b) -> a,
                    java.util.TreeMap::new)));
  }
}
