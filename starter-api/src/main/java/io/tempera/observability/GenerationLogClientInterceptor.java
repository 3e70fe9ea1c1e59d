package io.tempera.observability;

import io.tempera.generation.GenerationRequest;
import io.temporal.common.interceptors.WorkflowClientCallsInterceptor;
import io.temporal.common.interceptors.WorkflowClientCallsInterceptorBase;
import io.temporal.common.interceptors.WorkflowClientInterceptorBase;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.MDC;

/**
 * When a generation starts, its ids go into the MDC for the start's own log lines, and from there,
 * through {@link GenerationLogContext}, into the workflow's header: its workflow and activities log
 * with them on the workers; the start itself is one INFO line with them. The MDC is as it was once
 * the start returns.
 */
public final class GenerationLogClientInterceptor extends WorkflowClientInterceptorBase {

  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(GenerationLogClientInterceptor.class);

  @Override
  public WorkflowClientCallsInterceptor workflowClientCallsInterceptor(
      WorkflowClientCallsInterceptor next) {
    return new WorkflowClientCallsInterceptorBase(next) {
      @Override
      public WorkflowStartOutput start(WorkflowStartInput input) {
        Object[] args = input.getArguments();
        if (args == null || args.length == 0 || !(args[0] instanceof GenerationRequest request)) {
          return super.start(input);
        }
        List<MDC.MDCCloseable> put = new ArrayList<>();
        try {
          put(put, GenerationLogContext.GENERATION_ID, input.getWorkflowId());
          put(put, GenerationLogContext.PROJECT_ID, request.projectId());
          put(put, GenerationLogContext.FUNCTION_ID, request.functionId());
          put(put, GenerationLogContext.TIER, request.tier());
          WorkflowStartOutput started = super.start(input);
          log.info(
              "generation {} started: {} at {} for project {}",
              input.getWorkflowId(),
              request.functionId(),
              request.tier(),
              request.projectId());
          return started;
        } finally {
          put.forEach(MDC.MDCCloseable::close);
        }
      }
    };
  }

  private static void put(List<MDC.MDCCloseable> put, String key, String value) {
    if (value != null && !value.isBlank() && MDC.get(key) == null) {
      put.add(MDC.putCloseable(key, value));
    }
  }
}
