package io.tempera.generation;

import io.tempera.slots.Lease;
import io.tempera.template.QualityTier;
import java.util.Locale;

/**
 * The words an operator reads in the Temporal UI (Temporal's user metadata): a generation's summary
 * and details, set when it starts ("upscale · High · project demo"), the summary of each of its
 * activities on the timeline ("Lease a slot (High)", "Run on comfyui on gpu-2, GPU 0", "Collect 2
 * outputs on gpu-2") and its current details, kept up with its phase. Metadata only: a replay never
 * compares it, so changing these words needs no {@code Workflow.getVersion}.
 */
public final class GenerationSummaries {

  /** Temporal's UI shows a summary on one line: long ones are cut here. */
  static final int MAX_SUMMARY = 200;

  private GenerationSummaries() {}

  /** The generation's summary: function, tier and project, e.g. "upscale · High · project demo". */
  public static String of(GenerationRequest request) {
    return cut(
        request.functionId()
            + " · "
            + tierName(QualityTier.resolve(request.tier()).tier().id())
            + " · project "
            + request.projectId());
  }

  /** The generation's details (markdown): what was asked, for whom. */
  public static String details(GenerationRequest request) {
    StringBuilder details = new StringBuilder();
    details.append("**Function** ").append(request.functionId());
    details.append(
        request.functionVersion() == null
            ? " (newest version)"
            : " version " + request.functionVersion());
    details.append("  \n**Tier** ").append(QualityTier.resolve(request.tier()).tier().id());
    if (request.tier() != null
        && !request.tier().equals(QualityTier.resolve(request.tier()).tier().id())) {
      details.append(" (asked: ").append(request.tier()).append(')');
    }
    details.append("  \n**Project** ").append(request.projectId());
    details.append(", node ").append(request.nodeId());
    if (request.requestId() != null) {
      details.append("  \n**Request** ").append(request.requestId());
    }
    details.append("  \n**Parameters** ").append(String.join(", ", request.parameters().keySet()));
    return details.toString();
  }

  /** "High" for "high". */
  static String tierName(String tier) {
    if (tier == null || tier.isEmpty()) {
      return "Standard";
    }
    return tier.substring(0, 1).toUpperCase(Locale.ROOT) + tier.substring(1);
  }

  static String lease(GenerationPlan plan) {
    return "Lease a slot ("
        + tierName(plan.tierUsed())
        + (plan.vramMb() > 0 ? ", " + plan.vramMb() + " MB" : "")
        + ")";
  }

  static String modelStart(Lease lease, GenerationPlan plan) {
    return cut("Start model " + plan.modelId() + " on " + where(lease));
  }

  static String run(Lease lease, GenerationPlan plan) {
    return cut(
        "Run "
            + plan.functionId()
            + " ("
            + tierName(plan.tierUsed())
            + ") on "
            + plan.backendType()
            + " on "
            + where(lease));
  }

  static String collect(Lease lease, int files) {
    return "Collect " + files + (files == 1 ? " output" : " outputs") + " on " + lease.hostId();
  }

  static String cancelOnBackend(Lease lease) {
    return "Stop the run on " + (lease == null ? "the backend" : lease.hostId());
  }

  static String releaseModel(Lease lease, ModelStart model) {
    return cut("Release model " + model.model().id() + " on " + lease.hostId());
  }

  /** The generation's current details: its phase, where it runs, at what tier. */
  static String current(Phase phase, Attempt attempt, GenerationPlan plan) {
    StringBuilder now = new StringBuilder(phase.message());
    Lease lease = attempt.lease();
    if (lease != null && !phase.status().terminal()) {
      now.append(" on ").append(where(lease));
    }
    if (plan != null) {
      now.append(" · ").append(tierName(plan.tierUsed()));
      if (plan.tierRequested() != null
          && !plan.tierUsed().equals(QualityTier.resolve(plan.tierRequested()).tier().id())) {
        now.append(" (asked ")
            .append(QualityTier.resolve(plan.tierRequested()).tier().id())
            .append(')');
      }
    }
    return now.toString();
  }

  private static String where(Lease lease) {
    return lease.hostId() + ", GPU " + lease.gpuIndex();
  }

  private static String cut(String text) {
    return text.length() <= MAX_SUMMARY ? text : text.substring(0, MAX_SUMMARY - 1) + "…";
  }
}
