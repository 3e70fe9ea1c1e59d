package io.tempera.observability;

import io.opentracing.Tracer;
import io.temporal.opentracing.SpanBuilderProvider;
import io.temporal.opentracing.SpanCreationContext;
import io.temporal.opentracing.SpanOperationType;
import io.temporal.opentracing.internal.ActionTypeAndNameSpanBuilderProvider;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.MDC;

/**
 * Temporal's spans (StartWorkflow, RunWorkflow, StartActivity, RunActivity, …: Temporal's names and
 * tags) with the generation's attributes added: its id, project, function and tier, read from the
 * log context {@link GenerationLogContext} carries onto every thread that works on it; on the spans
 * a worker makes, the host's id; on an activity's run, its attempt. Reading the MDC changes nothing
 * in the workflow, so replay is unaffected.
 */
public final class GenerationSpans implements SpanBuilderProvider {

  public static final String GENERATION_ID = "tempera.generation.id";
  public static final String PROJECT_ID = "tempera.project.id";
  public static final String FUNCTION_ID = "tempera.function.id";
  public static final String TIER = "tempera.tier";
  public static final String HOST_ID = "tempera.host.id";
  public static final String ATTEMPT = "tempera.attempt";

  /** The MDC key of each attribute taken from the log context. */
  static final Map<String, String> FROM_LOG_CONTEXT =
      Map.of(
          GenerationLogContext.GENERATION_ID, GENERATION_ID,
          GenerationLogContext.PROJECT_ID, PROJECT_ID,
          GenerationLogContext.FUNCTION_ID, FUNCTION_ID,
          GenerationLogContext.TIER, TIER);

  /** The Temporal SDK's MDC key of an activity's attempt. */
  private static final String SDK_ATTEMPT = "Attempt";

  private final Supplier<String> hostId;

  /**
   * @param hostId this worker host's id, or null (the API, which runs no activities)
   */
  public GenerationSpans(Supplier<String> hostId) {
    this.hostId = hostId;
  }

  @Override
  public Tracer.SpanBuilder createSpanBuilder(Tracer tracer, SpanCreationContext context) {
    Tracer.SpanBuilder span =
        ActionTypeAndNameSpanBuilderProvider.INSTANCE.createSpanBuilder(tracer, context);
    FROM_LOG_CONTEXT.forEach((key, attribute) -> {
      String value = MDC.get(key);
      if (value != null && !value.isBlank()) {
        span.withTag(attribute, value);
      }
    });
    SpanOperationType type = context.getSpanOperationType();
    boolean onAWorker =
        type == SpanOperationType.RUN_WORKFLOW || type == SpanOperationType.RUN_ACTIVITY;
    String host = onAWorker && hostId != null ? hostId.get() : null;
    if (host != null && !host.isBlank()) {
      span.withTag(HOST_ID, host);
    }
    String attempt = MDC.get(SDK_ATTEMPT);
    if (type == SpanOperationType.RUN_ACTIVITY && attempt != null) {
      span.withTag(ATTEMPT, attempt);
    }
    return span;
  }
}
