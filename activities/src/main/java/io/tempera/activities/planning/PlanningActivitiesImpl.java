package io.tempera.activities.planning;

import io.tempera.activities.PhaseEvents;
import io.tempera.containers.ModelLookup;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationPlan;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.Phase;
import io.tempera.generation.PhaseTimeouts;
import io.tempera.generation.PlanningActivities;
import io.tempera.models.ModelSpec;
import io.tempera.template.Expression;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.ParameterMapping;
import io.tempera.template.ParameterValidator;
import io.tempera.template.QualityTier;
import io.tempera.template.RequestProblem;
import io.tempera.template.TemplateRegistry;
import io.tempera.template.TemplateTranslator;
import io.tempera.template.TierConfig;
import io.temporal.activity.Activity;
import io.temporal.failure.ApplicationFailure;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Plans generations from the template registry in memory; registered as local activities on the
 * workflow workers. A host without a container engine plans every model without its container
 * (served by the configured endpoints).
 */
public class PlanningActivitiesImpl implements PlanningActivities {

  private final TemplateRegistry templates;
  private final TemplateTranslator translator;
  private final ModelLookup models;
  private final boolean containers;
  private final PhaseEvents phases;

  public PlanningActivitiesImpl(
      TemplateRegistry templates,
      TemplateTranslator translator,
      ModelLookup models,
      boolean containers,
      PhaseEvents phases) {
    this.templates = templates;
    this.translator = translator;
    this.models = models == null ? ModelLookup.none() : models;
    this.containers = containers;
    this.phases = phases;
  }

  @Override
  public GenerationPlan plan(GenerationRequest request) {
    phases.entered(
        Activity.getExecutionContext().getInfo().getWorkflowId(),
        Phase.RESOLVING,
        0.0,
        Phase.RESOLVING.message());
    FunctionTemplate template =
        templates
            .find(request.functionId(), request.functionVersion())
            .orElseThrow(() ->
                ApplicationFailure.newNonRetryableFailure(
                    "Unknown function '"
                        + request.functionId()
                        + "'"
                        + (request.functionVersion() == null
                            ? ""
                            : " version " + request.functionVersion()),
                    ErrorCode.UNKNOWN_FUNCTION.name()));
    requireAvailable(template);
    List<RequestProblem> problems = ParameterValidator.validate(template, request.parameters());
    if (!problems.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          problems.stream().map(RequestProblem::message).collect(Collectors.joining("; ")),
          ErrorCode.INVALID_REQUEST.name());
    }
    QualityTier.Resolution tier = QualityTier.resolve(request.tier());
    List<String> warnings = new ArrayList<>();
    if (tier.warning() != null) {
      warnings.add(tier.warning());
    }
    return planFor(template, tier.tier(), request, warnings);
  }

  @Override
  public GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier) {
    FunctionTemplate template =
        templates
            .find(plan.functionId(), plan.functionVersion())
            .orElseThrow(() ->
                ApplicationFailure.newNonRetryableFailure(
                    "Version "
                        + plan.functionVersion()
                        + " of '"
                        + plan.functionId()
                        + "' is no longer available",
                    ErrorCode.UNKNOWN_FUNCTION.name()));
    requireAvailable(template);
    QualityTier target = QualityTier.fromId(tier);
    if (target == null) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Unknown tier " + tier, ErrorCode.INVALID_REQUEST.name());
    }
    return planFor(template, target, request, List.of());
  }

  @Override
  public GenerationPlan planOnModel(
      GenerationRequest request, GenerationPlan plan, String modelId) {
    ModelSpec model =
        models
            .find(modelId)
            .orElseThrow(() ->
                ApplicationFailure.newNonRetryableFailure(
                    "The model registry has no model '"
                        + modelId
                        + "'"
                        + (plan.model() == null
                            ? ""
                            : " (the fallback of " + plan.model().id() + ")"),
                    ErrorCode.MODEL_UNAVAILABLE.name()));
    if (model.backendType() != null && !model.backendType().equals(plan.backendType())) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The fallback model "
              + modelId
              + " speaks "
              + model.backendType()
              + ", but "
              + plan.functionId()
              + " runs on "
              + plan.backendType(),
          ErrorCode.MODEL_UNAVAILABLE.name());
    }
    ModelSpec hosted = startingWithin(onThisHost(model), plan.timeouts());
    // the graph names the failed model's files: written again with the fallback's
    TemplateTranslator.Translation onFallback = null;
    FunctionTemplate template =
        templates.find(plan.functionId(), plan.functionVersion()).orElse(null);
    QualityTier tier = QualityTier.fromId(plan.tierUsed());
    if (template != null
        && tier != null
        && template.mappings().stream()
            .anyMatch(m -> ParameterMapping.MODEL_FILE.equals(m.type()))) {
      onFallback = translate(template, tier, request.parameters(), request.projectId(), model);
    }
    return new GenerationPlan(
        plan.functionId(),
        plan.functionVersion(),
        plan.tierRequested(),
        plan.tierUsed(),
        plan.backendType(),
        onFallback == null ? plan.payload() : onFallback.payload(),
        onFallback == null ? plan.fileInputs() : onFallback.fileInputs(),
        plan.timeoutSeconds(),
        List.of(),
        plan.progressMessages(),
        plan.variant(),
        hosted,
        plan.timeouts(),
        hosted.vramMb() > 0 ? hosted.vramMb() : plan.vramMb());
  }

  private GenerationPlan planFor(
      FunctionTemplate template,
      QualityTier tier,
      GenerationRequest request,
      List<String> warnings) {
    PhaseTimeouts timeouts = template.timeouts(tier);
    ModelSpec model =
        templates
            .model(template, tier)
            .map(this::onThisHost)
            .map(m -> startingWithin(m, timeouts))
            .orElse(null);
    TemplateTranslator.Translation translation =
        translate(template, tier, request.parameters(), request.projectId(), model);
    return new GenerationPlan(
        template.id(),
        template.version(),
        request.tier(),
        tier.id(),
        template.backendType(),
        translation.payload(),
        translation.fileInputs(),
        template.timeoutSeconds(tier),
        warnings,
        template.progressMessages(),
        translation.variant(),
        model,
        timeouts,
        vramMb(template, tier, model));
  }

  /**
   * Refuses a function whose template its servers cannot run (a node class, input or model file
   * they lack, found by the registry's node catalogue check): FUNCTION_UNAVAILABLE, naming it,
   * rather than a run the server refuses. The API refuses such starts first; this covers a worker
   * whose API host does not know the servers.
   */
  private void requireAvailable(FunctionTemplate template) {
    List<io.tempera.template.NodeProblem> unavailable = templates.unavailability(template);
    if (!unavailable.isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "Function '"
              + template.id()
              + "' is unavailable: "
              + unavailable.get(0).reason()
              + (unavailable.size() > 1
                  ? " (and " + (unavailable.size() - 1) + " more problems)"
                  : ""),
          ErrorCode.FUNCTION_UNAVAILABLE.name());
    }
  }

  /**
   * The VRAM a slot for this plan must offer: the model's or the tier's, whichever is more (a tier
   * may need more than its model for its resolution; 0: the pool's default).
   */
  private static int vramMb(FunctionTemplate template, QualityTier tier, ModelSpec model) {
    int modelNeeds = model == null ? 0 : Math.max(0, model.vramMb());
    TierConfig config = template.tierConfigs().get(tier);
    int tierNeeds = config != null && config.vramMb() != null ? Math.max(0, config.vramMb()) : 0;
    return Math.max(modelNeeds, tierNeeds);
  }

  private ModelSpec onThisHost(ModelSpec model) {
    return containers || !model.containerised() ? model : model.withoutContainer();
  }

  /**
   * The model with the template's own start timeout, when it sets one ({@code
   * timeouts.model_start_seconds}).
   */
  private static ModelSpec startingWithin(ModelSpec model, PhaseTimeouts timeouts) {
    int seconds = timeouts.modelStartSeconds(model.startTimeoutSeconds());
    return seconds == model.startTimeoutSeconds() ? model : model.withStartTimeoutSeconds(seconds);
  }

  /**
   * Translates on {@code model}; an expression that cannot be evaluated for these values is the
   * request's fault, a model without the file the graph needs is the model's.
   */
  private TemplateTranslator.Translation translate(
      FunctionTemplate template,
      QualityTier tier,
      Map<String, Object> parameters,
      String projectId,
      ModelSpec model) {
    try {
      return translator.translate(template, tier, parameters, projectId, model);
    } catch (TemplateTranslator.ModelFileMissing e) {
      throw ApplicationFailure.newNonRetryableFailure(
          e.getMessage(), ErrorCode.MODEL_UNAVAILABLE.name());
    } catch (Expression.ExpressionException e) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The template "
              + template.id()
              + " cannot be applied to these parameters: "
              + e.getMessage(),
          ErrorCode.INVALID_REQUEST.name());
    }
  }
}
