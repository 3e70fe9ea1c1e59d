package io.tempera.generation;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/**
 * Turning a request into a plan from the function's template: in-memory lookups run as local
 * activities on the workflow's own worker (no server round trip). Each throws ApplicationFailure
 * typed by {@link ErrorCode}.
 */
@ActivityInterface
public interface PlanningActivities {

  /** Resolve the function's template (the pinned or newest version) and translate the request. */
  @ActivityMethod
  GenerationPlan plan(GenerationRequest request);

  /** The request again at another tier, from the same template version as {@code plan}. */
  @ActivityMethod
  GenerationPlan planAtTier(GenerationRequest request, GenerationPlan plan, String tier);

  /**
   * The plan again on another model of the registry (a model fallback): same template version and
   * tier. MODEL_UNAVAILABLE when the registry has no such model or it speaks another protocol.
   */
  @ActivityMethod
  GenerationPlan planOnModel(GenerationRequest request, GenerationPlan plan, String modelId);
}
