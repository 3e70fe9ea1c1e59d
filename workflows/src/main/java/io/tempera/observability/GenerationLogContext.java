package io.tempera.observability;

import io.temporal.api.common.v1.Payload;
import io.temporal.common.context.ContextPropagator;
import io.temporal.common.converter.DefaultDataConverter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.MDC;

/**
 * Carries a generation's log context (its id, project, function and tier: SLF4J MDC keys) from the
 * API that starts it into its workflow and from the workflow into every activity, through Temporal
 * headers: whatever logs on those threads — the workflow, the activities, the backends' clients
 * called from them — logs with the generation's ids (the Temporal SDK adds {@code WorkflowId},
 * {@code RunId}, {@code ActivityType} and {@code Attempt} itself). Registered on the API's and the
 * workers' WorkflowClient options; nothing else reads these headers.
 */
public final class GenerationLogContext implements ContextPropagator {

  public static final String GENERATION_ID = "generationId";
  public static final String PROJECT_ID = "projectId";
  public static final String FUNCTION_ID = "functionId";
  public static final String TIER = "tier";

  /** Every key it carries. */
  public static final List<String> KEYS = List.of(GENERATION_ID, PROJECT_ID, FUNCTION_ID, TIER);

  private static final String HEADER_PREFIX = "tempera-log-";

  @Override
  public String getName() {
    return "tempera-log-context";
  }

  @Override
  public Object getCurrentContext() {
    Map<String, String> context = new LinkedHashMap<>();
    for (String key : KEYS) {
      String value = MDC.get(key);
      if (value != null) {
        context.put(key, value);
      }
    }
    return context;
  }

  @Override
  public void setCurrentContext(Object context) {
    Map<?, ?> values = context instanceof Map<?, ?> m ? m : Map.of();
    for (String key : KEYS) {
      // a pooled activity thread keeps no key of the generation it ran before
      if (values.get(key) instanceof String value) {
        MDC.put(key, value);
      } else {
        MDC.remove(key);
      }
    }
  }

  @Override
  public Map<String, Payload> serializeContext(Object context) {
    Map<String, Payload> header = new LinkedHashMap<>();
    if (context instanceof Map<?, ?> values) {
      for (String key : KEYS) {
        if (values.get(key) instanceof String value) {
          header.put(
              HEADER_PREFIX + key,
              DefaultDataConverter.STANDARD_INSTANCE.toPayload(value).orElseThrow());
        }
      }
    }
    return header;
  }

  @Override
  public Object deserializeContext(Map<String, Payload> header) {
    Map<String, String> context = new LinkedHashMap<>();
    for (String key : KEYS) {
      Payload payload = header.get(HEADER_PREFIX + key);
      if (payload != null) {
        context.put(
            key,
            DefaultDataConverter.STANDARD_INSTANCE.fromPayload(
                payload, String.class, String.class));
      }
    }
    return context;
  }
}
