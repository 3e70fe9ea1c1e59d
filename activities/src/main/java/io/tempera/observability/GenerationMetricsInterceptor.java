package io.tempera.observability;

import io.micrometer.core.instrument.MeterRegistry;
import io.tempera.generation.BackendJob;
import io.tempera.generation.Fallback;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.slots.LeaseRequest;
import io.temporal.activity.ActivityExecutionContext;
import io.temporal.client.ActivityCompletionException;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptor;
import io.temporal.common.interceptors.ActivityInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkerInterceptorBase;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptor;
import io.temporal.common.interceptors.WorkflowInboundCallsInterceptorBase;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptor;
import io.temporal.common.interceptors.WorkflowOutboundCallsInterceptorBase;
import io.temporal.failure.ApplicationFailure;
import io.temporal.failure.CanceledFailure;
import io.temporal.workflow.Workflow;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The worker's meters of generations, from outside the workflow's code: how each generation ended
 * (outcome, error code, tier used, backend, fallbacks, duration) and how long it waited for a slot,
 * read from the workflow's inbound and outbound calls; and every failed activity attempt and retry.
 * It also puts the generation's ids on the workflow thread's log lines (MDC).
 *
 * <p>Like {@code GenerationEndsInterceptor} it adds no command and nothing to the history: times
 * are the workflow's own clock ({@link Workflow#currentTimeMillis()}, the same on replay) and
 * meters are recorded only when the worker is not replaying, so every history replays as before; a
 * failure to record is logged and never changes how the workflow goes.
 */
public final class GenerationMetricsInterceptor extends WorkerInterceptorBase {

  private static final Logger log = LoggerFactory.getLogger(GenerationMetricsInterceptor.class);

  private static final String GENERATION = GenerationWorkflow.class.getSimpleName();
  private static final String REQUEST_LEASE = "RequestLease";
  private static final List<String> ON_A_HOST = List.of("StartModel", "RunOnBackend");

  private final MeterRegistry registry;

  public GenerationMetricsInterceptor(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public WorkflowInboundCallsInterceptor interceptWorkflow(WorkflowInboundCallsInterceptor next) {
    return new Generation(next);
  }

  @Override
  public ActivityInboundCallsInterceptor interceptActivity(ActivityInboundCallsInterceptor next) {
    return new ActivityInboundCallsInterceptorBase(next) {
      private ActivityExecutionContext context;

      @Override
      public void init(ActivityExecutionContext context) {
        this.context = context;
        super.init(context);
      }

      @Override
      public ActivityOutput execute(ActivityInput input) {
        String activity = context.getInfo().getActivityType();
        int attempt = context.getInfo().getAttempt();
        if (attempt > 1) {
          safely(() -> GenerationMeters.activityRetried(registry, activity));
        }
        log.debug("activity {} attempt {} starts", activity, attempt);
        try {
          return super.execute(input);
        } catch (RuntimeException e) {
          String type = failureType(e);
          safely(() -> GenerationMeters.activityFailed(registry, activity, type));
          log.debug("activity {} attempt {} failed: {}", activity, attempt, type);
          throw e;
        }
      }
    };
  }

  /** An ErrorCode name, INTERRUPTED (cancelled, timed out, worker stopping) or OTHER. */
  static String failureType(Throwable e) {
    if (e instanceof ApplicationFailure app) {
      return MetricTags.error(app.getType());
    }
    if (e instanceof ActivityCompletionException) {
      return "INTERRUPTED";
    }
    return "OTHER";
  }

  /** One generation workflow's calls (a new one per workflow execution in the worker's cache). */
  private final class Generation extends WorkflowInboundCallsInterceptorBase {

    private boolean generation;
    private String functionId;
    private String tier;
    private String backend;
    private long leaseAskedAt = -1;

    Generation(WorkflowInboundCallsInterceptor next) {
      super(next);
    }

    @Override
    public void init(WorkflowOutboundCallsInterceptor outbound) {
      generation = GENERATION.equals(Workflow.getInfo().getWorkflowType());
      super.init(generation ? new Outbound(outbound) : outbound);
    }

    @Override
    public WorkflowOutput execute(WorkflowInput input) {
      if (!generation) {
        return super.execute(input);
      }
      GenerationRequest request =
          input.getArguments().length > 0 && input.getArguments()[0] instanceof GenerationRequest r
              ? r
              : null;
      if (request != null) {
        functionId = request.functionId();
        tier = request.tier();
        putLogContext(request);
      }
      WorkflowOutput output;
      try {
        output = super.execute(input);
      } catch (CanceledFailure cancelled) {
        ended("cancelled", "CANCELLED", null);
        throw cancelled;
      } catch (ApplicationFailure failed) {
        ended("failed", failed.getType(), resultOf(failed));
        throw failed;
      } catch (RuntimeException other) {
        ended("failed", "INTERNAL", null);
        throw other;
      }
      ended("succeeded", null, output.getResult() instanceof GenerationResult r ? r : null);
      return output;
    }

    private void putLogContext(GenerationRequest request) {
      // the workflow thread's log lines (the context propagator, where configured, sets the same)
      String id = Workflow.getInfo().getWorkflowId();
      MDC.put(GenerationLogContext.GENERATION_ID, id);
      putIfPresent(GenerationLogContext.PROJECT_ID, request.projectId());
      putIfPresent(GenerationLogContext.FUNCTION_ID, request.functionId());
      putIfPresent(GenerationLogContext.TIER, request.tier());
    }

    private GenerationResult resultOf(ApplicationFailure failed) {
      try {
        return failed.getDetails().get(1, GenerationResult.class);
      } catch (RuntimeException noResult) {
        return null;
      }
    }

    private void ended(String outcome, String error, GenerationResult result) {
      if (Workflow.isReplaying()) {
        return;
      }
      long now = Workflow.currentTimeMillis();
      long startedAt = Workflow.getInfo().getRunStartedTimestampMillis();
      log.info(
          "generation {} {}{} after {} ms",
          Workflow.getInfo().getWorkflowId(),
          outcome,
          error == null ? "" : " (" + error + ")",
          startedAt > 0 ? now - startedAt : -1);
      safely(() -> {
        String function =
            result != null && result.functionId() != null ? result.functionId() : functionId;
        String tierUsed = result != null && result.tierUsed() != null ? result.tierUsed() : tier;
        GenerationMeters.ended(
            registry,
            function,
            tierUsed,
            backend,
            outcome,
            error,
            startedAt > 0 ? Duration.ofMillis(now - startedAt) : null);
        if (result != null) {
          for (Fallback f : result.fallbacks()) {
            GenerationMeters.fellBack(
                registry, f.fromModel() != null ? "model" : "tier", f.fromTier(), f.toTier());
          }
        }
      });
    }

    /** Watches the activities the workflow schedules: where its lease wait starts and ends. */
    private final class Outbound extends WorkflowOutboundCallsInterceptorBase {

      Outbound(WorkflowOutboundCallsInterceptor next) {
        super(next);
      }

      @Override
      public <R> ActivityOutput<R> executeActivity(ActivityInput<R> input) {
        safely(() -> seen(input.getActivityName(), input.getArgs()));
        return super.executeActivity(input);
      }

      private void seen(String activity, Object[] args) {
        Object arg = args.length > 0 ? args[0] : null;
        if (REQUEST_LEASE.equals(activity)) {
          if (arg instanceof LeaseRequest lease) {
            functionId = lease.functionId();
            tier = lease.tier();
          }
          if (leaseAskedAt < 0) {
            leaseAskedAt = Workflow.currentTimeMillis();
          }
        } else if (ON_A_HOST.contains(activity)) {
          if (arg instanceof BackendJob job && job.plan() != null) {
            backend = job.plan().backendType();
            functionId = job.plan().functionId();
            tier = job.plan().tierUsed();
          }
          if (leaseAskedAt >= 0) {
            long waited = Workflow.currentTimeMillis() - leaseAskedAt;
            leaseAskedAt = -1;
            if (!Workflow.isReplaying()) {
              GenerationMeters.phase(
                  registry,
                  GenerationMeters.SLOT_WAIT,
                  functionId,
                  tier,
                  Duration.ofMillis(waited));
            }
          }
        }
      }
    }
  }

  private static void putIfPresent(String key, String value) {
    if (value != null && !value.isBlank()) {
      MDC.put(key, value);
    }
  }

  private static void safely(Runnable metering) {
    try {
      metering.run();
    } catch (RuntimeException e) {
      log.warn("a generation metric was not recorded: {}", e.toString());
    }
  }
}
