package io.tempera.ops;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.tempera.api.GenerationService;
import io.tempera.generation.Fallback;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationError;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.generation.OutputValue;
import io.tempera.history.GenerationVisibility;
import io.tempera.history.GenerationVisibility.Filter;
import io.tempera.slots.AllocatorState;
import io.tempera.slots.HostDrain;
import io.tempera.slots.HostRegistration;
import io.tempera.slots.Lease;
import io.tempera.slots.LeaseRelease;
import io.tempera.slots.SlotAllocatorWorkflow;
import io.tempera.slots.Waiter;
import io.temporal.api.common.v1.Payloads;
import io.temporal.api.history.v1.HistoryEvent;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionDescription;
import io.temporal.client.WorkflowExecutionMetadata;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowStub;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** What {@link OpsCommand} does, on a {@link WorkflowClient}: each command, printed. */
final class Operations {

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter CLOCK =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

  private static final String WORKFLOW_TYPE = GenerationVisibility.WORKFLOW_TYPE;

  /** How long drain, undrain and free wait to see the allocator take the change. */
  static final Duration SEEN_WITHIN = Duration.ofSeconds(15);

  private final WorkflowClient client;
  private final Map<String, String> env;
  private final PrintStream out;
  private final PrintStream err;
  private final String address;

  Operations(
      WorkflowClient client,
      Map<String, String> env,
      PrintStream out,
      PrintStream err,
      String address) {
    this.client = client;
    this.env = env;
    this.out = out;
    this.err = err;
    this.address = address;
  }

  /** Something the operator asked for that is not there, or not possible: exit code 1. */
  static final class Refused extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message, null, false, false);
    }
  }

  int run(OpsCommand.Invocation invocation) {
    try {
      return switch (invocation.command()) {
        case "list" -> list(invocation);
        case "show" -> show(invocation.word());
        case "cancel" -> cancel(invocation.word(), invocation.option("--reason"));
        case "retry" -> retry(invocation.word());
        case "drain" -> drain(invocation, true);
        case "undrain" -> drain(invocation, false);
        case "leases" -> leases(pool(invocation));
        case "usage" -> usage(invocation);
        case "free" -> free(invocation);
        default -> throw new OpsCommand.UsageException("unknown ops command");
      };
    } catch (OpsCommand.UsageException e) {
      err.println(e.getMessage());
      return OpsCommand.USAGE;
    } catch (Refused e) {
      err.println(e.getMessage());
      return OpsCommand.FAILED;
    } catch (WorkflowNotFoundException e) {
      err.println("there is no workflow " + e.getExecution().getWorkflowId());
      return OpsCommand.FAILED;
    } catch (RuntimeException e) {
      err.println("ops " + invocation.command() + " failed: " + explain(e));
      return OpsCommand.FAILED;
    }
  }

  /** A failure in words, without a stack trace: what the server said, or the cause's message. */
  private String explain(Throwable failure) {
    StatusRuntimeException status = GenerationVisibility.statusOf(failure);
    if (status != null) {
      return switch (status.getStatus().getCode()) {
        case UNAVAILABLE, DEADLINE_EXCEEDED ->
            "Temporal does not answer at "
                + address
                + " (set TEMPORAL_ADDRESS or --address): "
                + status.getStatus().getDescription();
        case NOT_FOUND -> "not found: " + status.getStatus().getDescription();
        default -> status.getStatus().getCode() + ": " + status.getStatus().getDescription();
      };
    }
    Throwable root = failure;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
  }

  // --- list ---------------------------------------------------------------------------------

  /** A row of {@code ops list}. */
  record Row(String id, String status, String function, String tier, String project, Instant at) {}

  private int list(OpsCommand.Invocation invocation) {
    int limit = 50;
    if (invocation.option("--limit") != null) {
      try {
        limit = Integer.parseInt(invocation.option("--limit"));
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > 10_000) {
        throw new OpsCommand.UsageException("--limit is a number from 1 to 10000");
      }
    }
    Filter filter = filter(invocation);
    Predicate<WorkflowExecutionMetadata> onHost = m -> true;
    String host = invocation.option("--host");
    if (host != null) {
      // the host a generation runs on is the allocator's to know: those holding a lease there now
      AllocatorState state = allocator(pool(invocation));
      requireHost(state, host);
      Set<String> holders =
          state.leases().stream()
              .filter(l -> l.hostId().equals(host))
              .map(Lease::holder)
              .collect(Collectors.toSet());
      onHost = m -> holders.contains(m.getExecution().getWorkflowId());
      if (!filter.query().contains("ExecutionStatus")) {
        // only running generations hold leases: the server need not page through the others
        filter = filter.and("ExecutionStatus = 'Running'", Operations::running);
      }
    }
    List<WorkflowExecutionMetadata> found = executions(filter, onHost, limit + 1);
    boolean more = found.size() > limit;
    List<Row> rows = found.stream().limit(limit).map(Operations::row).toList();
    printRows(rows);
    err.println(
        rows.size()
            + (rows.size() == 1 ? " generation" : " generations")
            + (more ? " (the newest " + limit + "; --limit shows more)" : "")
            + (host != null ? " holding a lease on host " + host : ""));
    return OpsCommand.OK;
  }

  /** The filter {@code ops list}'s options ask for. */
  static Filter filter(OpsCommand.Invocation invocation) {
    try {
      return GenerationVisibility.generations()
          .status(invocation.option("--status"))
          .tier(invocation.option("--tier"))
          .is("--project", GenerationSearchAttributes.PROJECT, invocation.option("--project"))
          .is("--function", GenerationSearchAttributes.FUNCTION, invocation.option("--function"))
          .filter();
    } catch (GenerationVisibility.InvalidCriterion e) {
      String criterion = e.criterion();
      throw new OpsCommand.UsageException(
          criterion.startsWith("--") ? e.getMessage() : "--" + e.getMessage());
    }
  }

  /**
   * At most {@code most} of the generations the filter (and {@code also}) selects, newest first
   * ({@link GenerationVisibility#executions}).
   */
  private List<WorkflowExecutionMetadata> executions(
      Filter filter, Predicate<WorkflowExecutionMetadata> also, int most) {
    try {
      return new GenerationVisibility(client).executions(filter, also, most);
    } catch (GenerationVisibility.SearchAttributesMissing e) {
      throw new Refused(e.getMessage());
    }
  }

  private static boolean running(WorkflowExecutionMetadata m) {
    return GenerationVisibility.running(m);
  }

  private static String attribute(
      WorkflowExecutionMetadata m, io.temporal.common.SearchAttributeKey<String> key) {
    return GenerationVisibility.attribute(m, key);
  }

  /** A generation's status as a person reads it ({@link GenerationVisibility#statusOf}). */
  static String statusOf(WorkflowExecutionMetadata m) {
    return GenerationVisibility.statusOf(m);
  }

  private static Row row(WorkflowExecutionMetadata m) {
    Object function = attribute(m, GenerationSearchAttributes.FUNCTION);
    Object project = attribute(m, GenerationSearchAttributes.PROJECT);
    if (function == null) {
      function = memo(m, GenerationService.MEMO_FUNCTION);
    }
    if (project == null) {
      project = memo(m, GenerationService.MEMO_PROJECT);
    }
    return new Row(
        m.getExecution().getWorkflowId(),
        statusOf(m),
        function == null ? "-" : function.toString(),
        orDash(attribute(m, GenerationSearchAttributes.TIER)),
        project == null ? "-" : project.toString(),
        m.getStartTime());
  }

  private static Object memo(WorkflowExecutionMetadata m, String key) {
    return GenerationVisibility.memo(m, key);
  }

  private void printRows(List<Row> rows) {
    int idWidth = Math.max(13, rows.stream().mapToInt(r -> r.id().length()).max().orElse(0));
    String format = "%-" + idWidth + "s  %-9s  %-20s  %-8s  %-16s  %s%n";
    out.printf(format, "GENERATION", "STATUS", "FUNCTION", "TIER", "PROJECT", "STARTED (UTC)");
    for (Row r : rows) {
      out.printf(
          format,
          r.id(),
          r.status(),
          r.function(),
          r.tier(),
          r.project(),
          r.at() == null ? "-" : TIME.format(r.at()));
    }
  }

  // --- show ---------------------------------------------------------------------------------

  private int show(String id) {
    WorkflowExecutionDescription described = generation(id);
    WorkflowStub stub = client.newUntypedWorkflowStub(id);
    GenerationState state =
        running(described)
            ? stub.query("state", GenerationState.class)
            : GenerationEnds.of(stub).asState();
    out.println(id + "  " + state.status() + "  (workflow " + workflowStatus(described) + ")");
    if (described.getStaticSummary() != null) {
      line("summary", described.getStaticSummary());
    }
    line(
        "function",
        orDash(state.functionId())
            + (state.functionVersion() == null ? "" : " " + state.functionVersion())
            + (state.variant() == null ? "" : " (variant " + state.variant() + ")"));
    line("project", orDash(state.projectId()) + ", node " + orDash(state.nodeId()));
    line(
        "tier",
        "asked "
            + (state.tierRequested() == null ? "none" : state.tierRequested())
            + (state.tierUsed() == null ? "" : ", ran at " + state.tierUsed()));
    line(
        "phase",
        state.phase()
            + " ("
            + state.phase().message()
            + "), "
            + Math.round(state.progress() * 100)
            + " %"
            + (state.queuePosition() == null
                ? ""
                : ", place " + state.queuePosition() + " in line"));
    line(
        "started",
        TIME.format(described.getStartTime())
            + (described.getCloseTime() == null
                ? ""
                : ", ended " + TIME.format(described.getCloseTime())));
    if (state.modelColdStartMillis() != null) {
      line("model start", state.modelColdStartMillis() + " ms");
    }
    GenerationError error = state.error();
    if (error != null) {
      line("error", error.code() + ": " + error.message());
      if (error.suggestion() != null) {
        line("", error.suggestion());
      }
    }
    for (Fallback fallback : state.fallbacks()) {
      line(
          "fallback",
          fallback.describe()
              + (fallback.fromModel() == null
                  ? ""
                  : " (" + fallback.fromModel() + " → " + fallback.toModel() + ")"));
    }
    state.warnings().forEach(w -> line("warning", w));
    for (OutputRef output : state.outputs()) {
      line(
          "output",
          output.name()
              + "  "
              + output.contentType()
              + ", "
              + output.sizeBytes()
              + " bytes"
              + (output.width() == null ? "" : ", " + output.width() + "×" + output.height())
              + "  "
              + output.path());
    }
    for (OutputValue value : state.values()) {
      line("value", value.name() + " (" + value.kind() + ") " + value.value());
    }
    List<Step> steps = steps(id);
    if (!steps.isEmpty()) {
      out.println("steps:");
      int width = steps.stream().mapToInt(s -> s.summary().length()).max().orElse(0);
      String format = "  %s  %-" + width + "s  %-10s  %s%n";
      for (Step step : steps) {
        out.printf(
            format,
            CLOCK.format(step.at()),
            step.summary(),
            step.host() == null ? "-" : step.host(),
            step.attempts() + (step.attempts() == 1 ? " attempt, " : " attempts, ") + step.end());
      }
    }
    return OpsCommand.OK;
  }

  private void line(String label, String text) {
    out.printf("  %-11s %s%n", label, text);
  }

  /**
   * One activity of a generation, from its history: what it was (its summary, else its type), the
   * host whose queue ran it, its attempts and how it ended.
   */
  record Step(Instant at, String summary, String host, int attempts, String end) {}

  /** The activities a generation ran, in order, from its history. */
  List<Step> steps(String id) {
    Map<Long, Step> steps = new LinkedHashMap<>();
    List<HistoryEvent> events = client.fetchHistory(id).getEvents();
    for (HistoryEvent event : events) {
      Instant at =
          Instant.ofEpochSecond(event.getEventTime().getSeconds(), event.getEventTime().getNanos());
      if (event.hasActivityTaskScheduledEventAttributes()) {
        var scheduled = event.getActivityTaskScheduledEventAttributes();
        String summary = scheduled.getActivityType().getName();
        if (event.hasUserMetadata() && event.getUserMetadata().hasSummary()) {
          try {
            summary =
                client
                    .getOptions()
                    .getDataConverter()
                    .fromPayload(event.getUserMetadata().getSummary(), String.class, String.class);
          } catch (RuntimeException unreadable) {
            // the type names it well enough
          }
        }
        String queue = scheduled.getTaskQueue().getName();
        String host =
            queue.startsWith(HostRegistration.taskQueueFor(""))
                ? queue.substring(HostRegistration.taskQueueFor("").length())
                : null;
        steps.put(event.getEventId(), new Step(at, summary, host, 0, "scheduled"));
      } else if (event.hasActivityTaskStartedEventAttributes()) {
        var started = event.getActivityTaskStartedEventAttributes();
        steps.computeIfPresent(
            started.getScheduledEventId(),
            (k, s) -> new Step(s.at(), s.summary(), s.host(), started.getAttempt(), "running"));
      } else if (event.hasActivityTaskCompletedEventAttributes()) {
        ended(
            steps,
            event.getActivityTaskCompletedEventAttributes().getScheduledEventId(),
            at,
            "done",
            null);
      } else if (event.hasActivityTaskFailedEventAttributes()) {
        var failed = event.getActivityTaskFailedEventAttributes();
        ended(steps, failed.getScheduledEventId(), at, "failed", failure(failed.getFailure()));
      } else if (event.hasActivityTaskTimedOutEventAttributes()) {
        var timedOut = event.getActivityTaskTimedOutEventAttributes();
        ended(
            steps, timedOut.getScheduledEventId(), at, "timed out", failure(timedOut.getFailure()));
      } else if (event.hasActivityTaskCanceledEventAttributes()) {
        ended(
            steps,
            event.getActivityTaskCanceledEventAttributes().getScheduledEventId(),
            at,
            "cancelled",
            null);
      }
    }
    return List.copyOf(steps.values());
  }

  /** A step ended: "done in 1.2 s", "failed after 0.3 s: EXECUTION_ERROR Node 3 failed". */
  private static void ended(
      Map<Long, Step> steps, long scheduledId, Instant at, String how, String why) {
    steps.computeIfPresent(
        scheduledId,
        (k, s) ->
            new Step(
                s.at(),
                s.summary(),
                s.host(),
                Math.max(1, s.attempts()),
                how
                    + (why == null ? " in " : " after ")
                    + seconds(Duration.between(s.at(), at))
                    + (why == null ? "" : ": " + why)));
  }

  private static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }

  private static String failure(io.temporal.api.failure.v1.Failure failure) {
    String type =
        failure.hasApplicationFailureInfo()
            ? failure.getApplicationFailureInfo().getType()
            : failure.hasTimeoutFailureInfo()
                ? failure
                    .getTimeoutFailureInfo()
                    .getTimeoutType()
                    .name()
                    .replace("TIMEOUT_TYPE_", "")
                : "";
    String message = failure.getMessage();
    if (failure.hasCause()
        && (message == null || message.isBlank() || failure.hasTimeoutFailureInfo())) {
      String cause = failure(failure.getCause());
      message = message == null || message.isBlank() ? cause : message + " (" + cause + ")";
    }
    return (type.isEmpty() ? "" : type + " ") + message;
  }

  // --- cancel and retry ---------------------------------------------------------------------

  private int cancel(String id, String reason) {
    WorkflowExecutionDescription described = generation(id);
    if (!running(described)) {
      throw new Refused(id + " has ended already (" + statusOf(described) + "): nothing to cancel");
    }
    client.newUntypedWorkflowStub(id).cancel(reason == null ? "cancelled by an operator" : reason);
    err.println(
        "asked "
            + id
            + " to cancel: its run is stopped and its slot given back; it ends CANCELLED");
    return OpsCommand.OK;
  }

  private int retry(String id) {
    WorkflowExecutionDescription described = generation(id);
    if (running(described)) {
      throw new Refused(
          id + " is still running (" + statusOf(described) + "); ops cancel it first");
    }
    GenerationRequest original = requestOf(id);
    String requestId =
        "retry-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    GenerationRequest again =
        new GenerationRequest(
            original.functionId(),
            original.tier(),
            original.parameters(),
            original.projectId(),
            original.nodeId(),
            requestId,
            original.functionVersion(),
            original.priority(),
            original.fairShareWeight(),
            original.webhook()); // its end goes where the original's would have (checked again)
    String newId = GenerationWorkflow.workflowIdFor(again.projectId(), requestId);
    boolean searchable =
        described.getTypedSearchAttributes().containsKey(GenerationSearchAttributes.STATUS);
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class, GenerationService.startOptions(again, newId, searchable));
    WorkflowClient.start(workflow::run, again);
    err.println(
        "started "
            + newId
            + ": "
            + again.functionId()
            + " for "
            + again.projectId()
            + "/"
            + again.nodeId()
            + " with the parameters of "
            + id);
    out.println(newId);
    return OpsCommand.OK;
  }

  /** The request a generation was started with: its workflow's input. */
  private GenerationRequest requestOf(String id) {
    HistoryEvent first = client.fetchHistory(id).getEvents().get(0);
    Payloads input = first.getWorkflowExecutionStartedEventAttributes().getInput();
    try {
      return client
          .getOptions()
          .getDataConverter()
          .fromPayloads(
              0, java.util.Optional.of(input), GenerationRequest.class, GenerationRequest.class);
    } catch (RuntimeException e) {
      throw new Refused(
          "the request of "
              + id
              + " cannot be read ("
              + explain(e)
              + "); is it encrypted? set TEMPERA_ENCRYPTION_ENABLED=true and the keys as the apps"
              + " have them");
    }
  }

  /** A generation's workflow, described; {@link Refused} when there is none. */
  private WorkflowExecutionDescription generation(String id) {
    WorkflowExecutionDescription described;
    try {
      described = client.newUntypedWorkflowStub(id).describe();
    } catch (WorkflowNotFoundException e) {
      throw new Refused("there is no generation " + id);
    } catch (RuntimeException e) {
      StatusRuntimeException status = GenerationVisibility.statusOf(e);
      if (status != null && status.getStatus().getCode() == Status.Code.NOT_FOUND) {
        throw new Refused("there is no generation " + id);
      }
      throw e;
    }
    if (!WORKFLOW_TYPE.equals(described.getWorkflowType())) {
      throw new Refused(
          id + " is no generation (its workflow is a " + described.getWorkflowType() + ")");
    }
    return described;
  }

  private static String workflowStatus(WorkflowExecutionMetadata m) {
    String name = m.getStatus().name().replace("WORKFLOW_EXECUTION_STATUS_", "");
    return name.charAt(0) + name.substring(1).toLowerCase(Locale.ROOT).replace('_', ' ');
  }

  // --- the slot pool ------------------------------------------------------------------------

  private String pool(OpsCommand.Invocation invocation) {
    String pool = invocation.option("--pool");
    if (pool == null) {
      pool = env.get("TEMPERA_SLOT_POOL");
    }
    return pool == null || pool.isBlank() ? "default" : pool.strip();
  }

  private SlotAllocatorWorkflow allocatorStub(String pool) {
    return client.newWorkflowStub(SlotAllocatorWorkflow.class, SlotAllocatorWorkflow.idFor(pool));
  }

  /** The pool's allocator's state; {@link Refused} when the pool has no running allocator. */
  private AllocatorState allocator(String pool) {
    String id = SlotAllocatorWorkflow.idFor(pool);
    try {
      WorkflowExecutionDescription described = client.newUntypedWorkflowStub(id).describe();
      if (!running(described)) {
        throw new Refused(
            "the slot allocator of pool "
                + pool
                + " ("
                + id
                + ") is not running: no worker of the pool has started");
      }
      return allocatorStub(pool).state();
    } catch (WorkflowNotFoundException e) {
      throw new Refused(
          "there is no slot pool "
              + pool
              + " (no workflow "
              + id
              + "; --pool or TEMPERA_SLOT_POOL names another)");
    }
  }

  private static void requireHost(AllocatorState state, String host) {
    if (state.hosts().stream().noneMatch(h -> h.hostId().equals(host))) {
      throw new Refused(
          "pool "
              + state.pool()
              + " has no host "
              + host
              + " (its hosts: "
              + (state.hosts().isEmpty()
                  ? "none"
                  : state.hosts().stream()
                      .map(HostRegistration::hostId)
                      .collect(Collectors.joining(", ")))
              + ")");
    }
  }

  private int drain(OpsCommand.Invocation invocation, boolean drain) {
    String pool = pool(invocation);
    String host = invocation.word();
    AllocatorState state = allocator(pool);
    requireHost(state, host);
    String reason = invocation.option("--reason");
    allocatorStub(pool)
        .drain(
            drain
                ? HostDrain.drain(host, reason == null ? "ops drain" : reason)
                : HostDrain.undrain(host, reason == null ? "ops undrain" : reason));
    AllocatorState seen =
        awaitState(pool, s -> s.drainedHosts().contains(host) == drain, "the allocator to take it");
    long leases = seen.leases().stream().filter(l -> l.hostId().equals(host)).count();
    if (drain) {
      err.println(
          "drained host "
              + host
              + " of pool "
              + pool
              + ": no new lease goes there; "
              + (leases == 0
                  ? "it holds no lease, it can be stopped"
                  : leases + " lease(s) still run there (ops leases shows them)"));
    } else {
      err.println("host " + host + " of pool " + pool + " takes leases again");
    }
    return OpsCommand.OK;
  }

  private AllocatorState awaitState(String pool, Predicate<AllocatorState> seen, String what) {
    long until = System.nanoTime() + SEEN_WITHIN.toNanos();
    while (true) {
      AllocatorState state = allocatorStub(pool).state();
      if (seen.test(state)) {
        return state;
      }
      if (System.nanoTime() > until) {
        throw new Refused(
            "signalled, but waited "
                + SEEN_WITHIN.toSeconds()
                + " s in vain for "
                + what
                + " (is the allocator's worker running?)");
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Refused("interrupted");
      }
    }
  }

  /**
   * Each project's part of the pool: generations holding a GPU, waiting, and GPU-seconds this clock
   * hour, from the allocator's usage query. A project shows by name when {@code --project} or the
   * keys file ({@code TEMPERA_KEYS_FILE}) names it, else by the key in its generations' ids.
   */
  private int usage(OpsCommand.Invocation invocation) {
    String pool = pool(invocation);
    allocator(pool); // refused when the pool has no running allocator
    java.util.Map<String, String> names = new java.util.HashMap<>();
    String named = invocation.option("--project");
    if (named != null) {
      for (String project : named.split(",")) {
        if (!project.isBlank()) {
          names.put(io.tempera.quotas.Quotas.keyOf(project.strip()), project.strip());
        }
      }
    }
    String keysFile = env.get("TEMPERA_KEYS_FILE");
    if (keysFile != null && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(keysFile))) {
      new io.tempera.security.ApiKeyStore(java.nio.file.Path.of(keysFile))
          .list().stream()
              .map(io.tempera.security.ApiKeyStore.StoredKey::projectId)
              .filter(java.util.Objects::nonNull)
              .forEach(p -> names.putIfAbsent(io.tempera.quotas.Quotas.keyOf(p), p));
    }
    io.tempera.quotas.Usage usage =
        new io.tempera.quotas.AllocatorUsage(client, List.of(pool), System::currentTimeMillis)
            .read(List.of())
            .usage();
    if (!usage.answered()) {
      throw new Refused(
          "the slot allocator of pool "
              + pool
              + " did not answer its usage query (see its worker)");
    }
    long hour = Math.floorDiv(System.currentTimeMillis(), 3_600_000L) * 3_600_000L;
    out.println(
        "pool "
            + pool
            + ": "
            + usage.slots()
            + " slots, "
            + usage.leasesHeld()
            + " leases, "
            + usage.waiting()
            + " waiting; "
            + (usage.finishedLeases() == 0
                ? "no lease measured yet"
                : String.format(
                    Locale.ROOT,
                    "a lease holds %.1f s on average (%d measured)",
                    usage.meanLeaseMillis() / 1000,
                    usage.finishedLeases()))
            + "; GPU time since "
            + CLOCK.format(java.time.Instant.ofEpochMilli(hour)).substring(0, 5)
            + " UTC");
    out.printf("%-24s  %-10s  %-7s  %-7s  %s%n", "PROJECT", "KEY", "RUNNING", "QUEUED", "GPU-S");
    new java.util.TreeMap<>(usage.byKey())
        .forEach((key, c) -> {
          if (key.isEmpty()) {
            return; // holders that are no generation
          }
          out.printf(
              "%-24s  %-10s  %-7d  %-7d  %d%n",
              names.getOrDefault(key, "?"), key, c.running(), c.queued(), c.gpuMillis() / 1000);
        });
    return OpsCommand.OK;
  }

  private int leases(String pool) {
    AllocatorState state = allocator(pool);
    out.println(
        "pool "
            + state.pool()
            + " ("
            + SlotAllocatorWorkflow.idFor(pool)
            + "): "
            + state.hosts().size()
            + " hosts, "
            + state.leases().size()
            + " leases, "
            + state.waiters().size()
            + " waiting");
    out.printf("%-20s  %-8s  %-7s  %-7s  %s%n", "HOST", "STATE", "LEASES", "RUNS", "GPUS (MB)");
    for (HostRegistration host : state.hosts()) {
      long held = state.leases().stream().filter(l -> l.hostId().equals(host.hostId())).count();
      out.printf(
          "%-20s  %-8s  %-7s  %-7s  %s%n",
          host.hostId(),
          state.lostHosts().contains(host.hostId())
              ? "lost"
              : state.drainedHosts().contains(host.hostId()) ? "drained" : "ok",
          held + "/" + host.maxLeases(),
          host.runsAtOnce(),
          host.gpus().stream()
              .map(g -> g.index() + ":" + g.vramMb())
              .collect(Collectors.joining(" ")));
    }
    if (!state.leases().isEmpty()) {
      out.println();
      int width =
          Math.max(5, state.leases().stream().mapToInt(l -> l.leaseId().length()).max().orElse(0));
      String format = "%-" + width + "s  %-40s  %-20s  %-3s  %s%n";
      out.printf(format, "LEASE", "HOLDER", "HOST", "GPU", "VRAM MB");
      for (Lease lease : state.leases()) {
        out.printf(
            format,
            lease.leaseId(),
            lease.holder(),
            lease.hostId(),
            lease.gpuIndex(),
            lease.vramMb());
      }
    }
    if (!state.waiters().isEmpty()) {
      out.println();
      // in the order the allocator serves them: priority, fair share between projects, arrival
      out.printf(
          "%-5s  %-40s  %-20s  %-8s  %-11s  %-16s  %s%n",
          "PLACE", "WAITING", "FUNCTION", "TIER", "PRIORITY", "PROJECT", "VRAM MB");
      int place = 1;
      for (Waiter waiter : state.waiters()) {
        out.printf(
            "%-5d  %-40s  %-20s  %-8s  %-11s  %-16s  %d%n",
            place++,
            waiter.request().holder(),
            orDash(waiter.request().functionId()),
            orDash(waiter.request().tier()),
            io.tempera.generation.PriorityLevel.fromKey(waiter.request().priorityOrDefault()).id(),
            orDash(waiter.request().projectId()),
            waiter.request().vramMb());
      }
    }
    return OpsCommand.OK;
  }

  private int free(OpsCommand.Invocation invocation) {
    String pool = pool(invocation);
    String leaseId = invocation.word();
    AllocatorState state = allocator(pool);
    Lease lease =
        state.leases().stream()
            .filter(l -> l.leaseId().equals(leaseId))
            .findFirst()
            .orElseThrow(() ->
                new Refused(
                    "pool " + pool + " has no lease " + leaseId + " (ops leases lists them)"));
    try {
      WorkflowExecutionDescription holder =
          client.newUntypedWorkflowStub(lease.holder()).describe();
      if (running(holder)) {
        err.println(
            "warning: "
                + lease.holder()
                + " is still running; it keeps its run on "
                + lease.hostId()
                + " while its slot goes back to the pool (ops cancel stops it)");
      }
    } catch (WorkflowNotFoundException gone) {
      // a holder that is gone is what makes a lease stuck
    }
    String reason = invocation.option("--reason");
    allocatorStub(pool)
        .release(
            new LeaseRelease(
                lease.holder(),
                lease.leaseId(),
                reason == null ? "freed by an operator" : reason,
                lease.hostId()));
    awaitState(
        pool,
        s ->
            s.leases().stream()
                .noneMatch(
                    l -> l.holder().equals(lease.holder()) && l.hostId().equals(lease.hostId())),
        "the lease to go");
    err.println("freed lease " + leaseId + " (" + lease.holder() + " on " + lease.hostId() + ")");
    return OpsCommand.OK;
  }

  private static String orDash(Object value) {
    return value == null ? "-" : value.toString();
  }
}
