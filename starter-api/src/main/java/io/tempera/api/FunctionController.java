package io.tempera.api;

import io.tempera.security.Caller;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.NodeProblem;
import io.tempera.template.ParameterSpec;
import io.tempera.template.QualityTier;
import io.tempera.template.RequestProblem;
import io.tempera.template.TemplateProblem;
import io.tempera.template.TemplateRegistry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** The functions the canvas can offer, straight from the templates folder. */
@RestController
@RequestMapping("/api/functions")
public class FunctionController {

  private final TemplateRegistry templates;
  private final ConfiguredBackends backends;

  public FunctionController(TemplateRegistry templates, ConfiguredBackends backends) {
    this.templates = templates;
    this.backends = backends;
  }

  /**
   * The functions the canvas can offer: those the configured servers can run (and whose backend has
   * a server configured at all).
   */
  @GetMapping
  public List<ApiMessages.Function> list() {
    return templates.functions().stream()
        .filter(t -> unavailability(t).isEmpty())
        .map(FunctionController::describe)
        .toList();
  }

  /** Why a function cannot run here: node catalogue problems, or no server for its backend. */
  private List<NodeProblem> unavailability(FunctionTemplate template) {
    List<NodeProblem> problems = new ArrayList<>(backends.problems(template));
    problems.addAll(templates.unavailability(template));
    return problems;
  }

  @GetMapping("/{id}")
  public ApiMessages.Function one(@PathVariable String id, @AuthenticationPrincipal Caller caller) {
    FunctionTemplate template =
        templates
            .find(id)
            .orElseThrow(() -> ApiException.notFound("There is no function '" + id + "'"));
    List<NodeProblem> unavailable = unavailability(template);
    if (!unavailable.isEmpty()) {
      throw unavailable(template, unavailable, caller);
    }
    return describe(template);
  }

  /**
   * For template authors (operator keys): the template files that were skipped, and what the node
   * catalogue check found (why a function is unavailable, and warnings), each with file, JSON path
   * and reason.
   */
  @GetMapping("/problems")
  public List<TemplateProblem> problems() {
    return templates.problems();
  }

  /**
   * The functions whose templates loaded but cannot run on the configured servers (a node class,
   * input or model file they lack), with each problem's node, class and input for an operator key;
   * a project key is told each problem's code only, since the reasons name the servers and files of
   * the deployment.
   */
  @GetMapping("/unavailable")
  public List<ApiMessages.UnavailableFunction> unavailable(@AuthenticationPrincipal Caller caller) {
    List<ApiMessages.UnavailableFunction> unavailable = new ArrayList<>();
    for (TemplateRegistry.Unavailable u : templates.unavailable()) {
      List<NodeProblem> problems = new ArrayList<>(backends.problems(u.template()));
      problems.addAll(u.problems());
      unavailable.add(entry(u.template(), problems, caller));
    }
    // the ones the node catalogue check passed, but whose backend has no server configured
    for (FunctionTemplate t : templates.functions()) {
      List<NodeProblem> problems = backends.problems(t);
      if (templates.available(t) && !problems.isEmpty()) {
        unavailable.add(entry(t, problems, caller));
      }
    }
    return unavailable;
  }

  private static ApiMessages.UnavailableFunction entry(
      FunctionTemplate t, List<NodeProblem> problems, Caller caller) {
    return new ApiMessages.UnavailableFunction(
        t.id(), t.version(), t.displayName(), forCaller(problems, caller));
  }

  /** The sentence a project key reads instead of a problem's reason. */
  static final String NOT_HERE =
      "It cannot run on this deployment's servers yet; an operator can see why and install what it"
          + " needs";

  /**
   * {@code problems} as {@code caller} may see them: all of each for an operator; for a project key
   * only which function and what kind of problem ({@code code}), never the template file, the graph
   * or the servers' addresses and settings a reason names.
   */
  static List<NodeProblem> forCaller(List<NodeProblem> problems, Caller caller) {
    if (caller != null && caller.operator()) {
      return problems;
    }
    return problems.stream()
        .map(p ->
            new NodeProblem(
                p.functionId(),
                p.version(),
                null,
                null,
                null,
                null,
                null,
                p.code(),
                NOT_HERE,
                true))
        .distinct()
        .toList();
  }

  /**
   * 409 FUNCTION_UNAVAILABLE: the first problem in the message, every one in the problems (for an
   * operator key; a project key is told the codes only, {@link #forCaller}).
   */
  static ApiException unavailable(
      FunctionTemplate template, List<NodeProblem> problems, Caller caller) {
    if (caller == null || !caller.operator()) {
      return new ApiException(
          HttpStatus.CONFLICT,
          "FUNCTION_UNAVAILABLE",
          "Function '"
              + template.id()
              + "' is unavailable on this deployment: an operator must install what it needs,"
              + " or choose another function",
          problems.stream()
              .map(p -> p.code())
              .distinct()
              .map(code -> new RequestProblem("functionId", code, NOT_HERE))
              .toList());
    }
    return new ApiException(
        HttpStatus.CONFLICT,
        "FUNCTION_UNAVAILABLE",
        "Function '"
            + template.id()
            + "' is unavailable: "
            + problems.get(0).reason()
            + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more problems)" : "")
            + "; an operator must install what it needs, or choose another function",
        problems.stream()
            .map(p -> new RequestProblem("functionId", p.code(), p.reason()))
            .toList());
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
      if (p.nullable()) {
        schema.put("nullable", true); // the type stays one name; null is also accepted
      }
      if (p.hasDefault()) schema.put("default", p.defaultValue());
      if (p.random()) {
        // left out, a new random value each time (returned in the generation's parameters)
        schema.put("x-tempera-random", true);
      }
      if (p.min() != null) schema.put("minimum", p.min());
      if (p.max() != null) schema.put("maximum", p.max());
      if (!p.enumValues().isEmpty()) schema.put("enum", p.enumValues());
      if (p.description() != null) schema.put("description", p.description());
      properties.put(p.name(), schema);
      if (p.required() && !p.hasDefault()) {
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
