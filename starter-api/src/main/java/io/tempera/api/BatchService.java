package io.tempera.api;

import io.tempera.api.webhooks.Webhooks;
import io.tempera.batch.BatchRequest;
import io.tempera.batch.BatchState;
import io.tempera.batch.BatchStatus;
import io.tempera.batch.BatchWorkflow;
import io.tempera.batch.ChildOutcome;
import io.tempera.batch.SweepAxis;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.PriorityLevel;
import io.tempera.history.GenerationVisibility;
import io.tempera.security.Caller;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.RequestProblem;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowExecutionDescription;
import io.temporal.client.WorkflowExecutionMetadata;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/**
 * Starts, reads and cancels batches ({@link BatchWorkflow}): the checks of a generation for each of
 * its variations, its size bound, the admission of its first generation, and its state as the API
 * shows it. Blocking calls.
 */
@Service
public class BatchService {

  /** A batch's requestId is shorter than a generation's: its generations' ids append to it. */
  static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9_-]{1,90}");

  static final Pattern BATCH_ID = Pattern.compile("batch-[0-9a-f]{10}-[A-Za-z0-9_-]{1,90}");

  /** The most variations a page of results lists. */
  static final int MAX_PAGE = 500;

  /** Problems listed at most for a batch's invalid variations. */
  private static final int MAX_PROBLEMS = 20;

  private final WorkflowClient client;
  private final GenerationVisibility visibility;
  private final GenerationService generations;
  private final io.tempera.config.SchedulingProperties scheduling;
  private final io.tempera.quotas.Quotas quotas;
  private final io.tempera.config.TemperaProperties properties;
  private final int maxSize;
  private final int maxInFlight;
  private Webhooks webhooks;

  /** Ended batches' states (an ended batch never changes). */
  private final Map<String, BatchState> ended =
      java.util.Collections.synchronizedMap(
          new LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, BatchState> eldest) {
              return size() > 200;
            }
          });

  public BatchService(
      WorkflowClient client,
      GenerationService generations,
      io.tempera.config.SchedulingProperties scheduling,
      io.tempera.quotas.Quotas quotas,
      io.tempera.config.TemperaProperties properties,
      @Value("${tempera.batches.max-size:1000}") int maxSize,
      @Value("${tempera.batches.max-in-flight:10}") int maxInFlight) {
    this.client = client;
    this.visibility = new GenerationVisibility(client);
    this.generations = generations;
    this.scheduling = scheduling;
    this.quotas = quotas;
    this.properties = properties;
    this.maxSize = Math.max(1, maxSize);
    this.maxInFlight = Math.max(1, maxInFlight);
  }

  @org.springframework.beans.factory.annotation.Autowired(required = false)
  void setWebhooks(Webhooks webhooks) {
    this.webhooks = webhooks;
  }

  /**
   * Validates and starts a batch of {@code count} variations of each combination of {@code sweep}
   * (parameter → values; the cartesian product of its axes). A repeated requestId returns the batch
   * it started.
   */
  public BatchMessages.Accepted start(
      ApiMessages.StartGeneration requested,
      Integer count,
      Map<String, List<Object>> sweep,
      Caller caller) {
    ApiMessages.StartGeneration body =
        requested.projectId() == null && caller.projectId() != null
            ? requested.withProjectId(caller.projectId())
            : requested;
    GenerationService.checkShape(
        body, REQUEST_ID, "requestId must be 1-90 letters, digits, '_' or '-' (for a batch)");
    if (!caller.actsFor(body.projectId())) {
      throw GenerationService.unknownProject();
    }
    FunctionTemplate template = generations.templateOf(body);
    int repeats = count == null ? 1 : count;
    Map<String, List<Object>> axes = sweep == null ? Map.of() : sweep;
    Map<String, Object> parameters = body.parameters() == null ? Map.of() : body.parameters();
    long total = repeats;
    for (List<Object> values : axes.values()) {
      total = Math.min(total * Math.max(1, values.size()), Long.MAX_VALUE / 1_000_000);
    }
    if (total > maxSize) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "BATCH_TOO_LARGE",
          "This batch has "
              + total
              + " variations; a batch has at most "
              + maxSize
              + " (tempera.batches.max-size): split it");
    }
    List<RequestProblem> problems = new ArrayList<>();
    axes.forEach((name, values) -> {
      if (!template.parameters().containsKey(name)) {
        problems.add(
            new RequestProblem(
                "sweep." + name,
                "UNKNOWN_PARAMETER",
                "Function '" + template.id() + "' has no parameter '" + name + "' to sweep"));
      } else if (parameters.containsKey(name)) {
        problems.add(
            new RequestProblem(
                "sweep." + name,
                "SWEPT_AND_SET",
                "'" + name + "' is both swept and set in parameters: send it in one only"));
      }
    });
    if (!problems.isEmpty()) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "INVALID_SWEEP",
          StrictJson.summary(problems),
          problems);
    }
    List<SweepAxis> sweepAxes = new ArrayList<>();
    axes.forEach((name, values) -> sweepAxes.add(new SweepAxis(name, values)));
    if (repeats > 1
        && template.parameters().values().stream()
            .noneMatch(spec -> spec.random() && !parameters.containsKey(spec.name()))) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "BATCH_NOTHING_VARIES",
          "count makes variations by drawing a new value of each random parameter (a seed) the"
              + " request leaves out; function '"
              + template.id()
              + "' has none left out, so its "
              + repeats
              + " variations would be the same: leave the seed out, or sweep a parameter");
    }
    // every variation is checked as its generation would be
    BatchRequest shape =
        new BatchRequest(
            new GenerationRequest(
                body.functionId(), body.tier(), parameters, body.projectId(), body.nodeId(), null),
            sweepAxes,
            repeats,
            List.of(),
            1,
            "none",
            false,
            null);
    int variations = (int) total;
    for (int combination = 0; combination < variations / repeats; combination++) {
      int index = combination * repeats;
      Map<String, Object> full = shape.generationFor(index, null).parameters();
      String prefix =
          sweepAxes.isEmpty() ? "" : "variation " + index + " " + shape.varied(index) + ": ";
      // a problem's field is the body's path: a swept parameter's value came from sweep.x, the
      // message says which variation
      for (RequestProblem problem :
          generations.parameterProblems(template, body.projectId(), full, "", prefix)) {
        problems.add(
            problem.parameter() != null && axes.containsKey(problem.parameter())
                ? new RequestProblem(
                    "sweep." + problem.parameter(),
                    problem.code(),
                    problem.message(),
                    problem.parameter())
                : problem);
      }
      if (problems.size() >= MAX_PROBLEMS) {
        break;
      }
    }
    if (!problems.isEmpty()) {
      List<RequestProblem> shown = problems.subList(0, Math.min(problems.size(), MAX_PROBLEMS));
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT, "INVALID_PARAMETERS", StrictJson.summary(shown), shown);
    }
    List<Map<String, Object>> draws = new ArrayList<>();
    for (int index = 0; index < variations; index++) {
      Map<String, Object> full = shape.generationFor(index, null).parameters();
      Map<String, Object> drawn = GenerationService.withRandomDraws(template, full);
      Map<String, Object> only = new LinkedHashMap<>();
      drawn.forEach((name, value) -> {
        if (!full.containsKey(name)) {
          only.put(name, value);
        }
      });
      draws.add(only);
    }
    if (draws.stream().allMatch(Map::isEmpty)) {
      draws = List.of();
    }
    PriorityLevel priority =
        body.priority() == null ? PriorityLevel.BATCH : generations.priorityOf(body, caller);
    io.tempera.webhooks.Webhook webhook = generations.webhookOf(body);
    String id =
        BatchWorkflow.idFor(
            body.projectId(),
            body.requestId() != null ? body.requestId() : UUID.randomUUID().toString());
    GenerationRequest generation =
        new GenerationRequest(
            body.functionId(),
            body.tier(),
            parameters,
            body.projectId(),
            body.nodeId(),
            null,
            body.functionVersion(),
            priority.key(),
            scheduling.weightOf(body.projectId()),
            null);
    BatchRequest request =
        new BatchRequest(
            generation,
            sweepAxes,
            repeats,
            draws,
            Math.min(maxInFlight, variations),
            GenerationService.taskQueueFor(generation),
            properties.searchAttributes(),
            webhook);
    // admitted as its first generation would be: a project at a quota gets the same 429
    String first = BatchWorkflow.childIdFor(id, 0);
    io.tempera.quotas.Admission.Refusal refusal = quotas.admit(body.projectId(), first);
    if (refusal != null && (body.requestId() == null || !exists(id))) {
      throw ApiException.tooManyRequests(
          refusal.code(), refusal.message(), refusal.retryAfterSeconds());
    }
    Map<String, Object> memo = new LinkedHashMap<>();
    memo.put(GenerationService.MEMO_FUNCTION, body.functionId());
    memo.put(GenerationService.MEMO_PROJECT, body.projectId());
    if (webhook != null) {
      memo.put(Webhooks.MEMO_WEBHOOK, webhook.url());
    }
    WorkflowOptions.Builder options = WorkflowOptions.newBuilder();
    if (properties.searchAttributes()) {
      // findable by project in the list of batches (GET /api/batches), as generations are
      options.setTypedSearchAttributes(
          io.temporal.common.SearchAttributes.newBuilder()
              .set(GenerationSearchAttributes.PROJECT, body.projectId())
              .set(GenerationSearchAttributes.FUNCTION, body.functionId())
              .build());
    }
    BatchWorkflow workflow =
        client.newWorkflowStub(
            BatchWorkflow.class,
            options
                .setTaskQueue(BatchWorkflow.TASK_QUEUE)
                .setWorkflowId(id)
                .setWorkflowIdReusePolicy(
                    WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
                .setMemo(memo)
                .setStaticSummary(
                    "Batch: "
                        + variations
                        + " × "
                        + body.functionId()
                        + " for "
                        + body.projectId()
                        + "/"
                        + body.nodeId())
                .build());
    try {
      WorkflowClient.start(workflow::run, request, null);
      return new BatchMessages.Accepted(id, BatchStatus.RUNNING.name(), variations);
    } catch (RuntimeException notStarted) {
      quotas.withdraw(first);
      if (!(notStarted instanceof WorkflowExecutionAlreadyStarted)) {
        throw notStarted;
      }
      WorkflowExecutionDescription existing = client.newUntypedWorkflowStub(id).describe();
      Object project = existing.getMemo(GenerationService.MEMO_PROJECT, String.class);
      Object function = existing.getMemo(GenerationService.MEMO_FUNCTION, String.class);
      if (!body.projectId().equals(project) || !body.functionId().equals(function)) {
        throw new ApiException(
            HttpStatus.CONFLICT,
            "REQUEST_ID_REUSED",
            "requestId " + body.requestId() + " was already used for another batch; send another");
      }
      BatchState state = state(id);
      return new BatchMessages.Accepted(id, state.status().name(), state.total());
    }
  }

  private boolean exists(String id) {
    try {
      client.newUntypedWorkflowStub(id).describe();
      return true;
    } catch (RuntimeException e) {
      if (GenerationService.isNotFound(e)) {
        return false;
      }
      throw e;
    }
  }

  /** The batch's state and one page of its variations, for {@code caller} (404 for another). */
  public BatchMessages.Batch view(String id, int offset, int limit, Caller caller) {
    BatchState state = state(id);
    requireOwner(state, caller);
    BatchMessages.Batch view =
        toView(state, statusOf(id, state), offset, Math.min(limit, MAX_PAGE));
    if (webhooks == null || state.request().webhook() == null) {
      return view;
    }
    return view.withWebhook(
        webhooks
            .view(id, state.status().terminal(), () -> state.request().webhook().url())
            .orElse(null));
  }

  /**
   * Cancels the batch (Temporal's cancel, as from the Temporal UI): its generations not ended are
   * cancelled, those not started never start; it ends CANCELLED with the results so far.
   */
  public BatchMessages.Batch cancel(String id, Caller caller) {
    BatchState state = state(id);
    requireOwner(state, caller);
    if (!state.status().terminal()) {
      client.newUntypedWorkflowStub(id).cancel("cancelled by the user");
    }
    return view(id, 0, 100, caller);
  }

  private static void requireOwner(BatchState state, Caller caller) {
    if (caller == null || !caller.actsFor(state.request().generation().projectId())) {
      throw ApiException.notFound("There is no such batch");
    }
  }

  /**
   * The batch's state: a running one answers its query; an ended one is read from its result (or
   * its memo, when cancelled), and kept.
   */
  BatchState state(String id) {
    if (id == null || !BATCH_ID.matcher(id).matches()) {
      throw ApiException.notFound("There is no such batch");
    }
    BatchState known = ended.get(id);
    if (known != null) {
      return known;
    }
    WorkflowStub stub = client.newUntypedWorkflowStub(id);
    WorkflowExecutionDescription described;
    try {
      described = stub.describe();
    } catch (RuntimeException e) {
      if (GenerationService.isNotFound(e)) {
        throw ApiException.notFound("There is no such batch");
      }
      throw e;
    }
    BatchState state =
        switch (described.getStatus()) {
          case WORKFLOW_EXECUTION_STATUS_COMPLETED -> stub.getResult(BatchState.class);
          case WORKFLOW_EXECUTION_STATUS_CANCELED -> {
            BatchState memo =
                described.getMemo(BatchWorkflow.MEMO_CANCELLED, BatchState.class, BatchState.class);
            yield memo != null ? memo : stub.query("state", BatchState.class);
          }
          default -> stub.query("state", BatchState.class);
        };
    if (state == null) {
      throw new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE,
          "NO_WORKER",
          "The batch has not started yet; try again in a moment");
    }
    if (described.getStatus() != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        && described.getStatus()
            != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW) {
      ended.put(id, state);
    }
    return state;
  }

  /** The status shown: the batch's own, FAILED when its workflow was stopped otherwise. */
  private String statusOf(String id, BatchState state) {
    if (state.status().terminal()) {
      return state.status().name();
    }
    WorkflowExecutionStatus status = client.newUntypedWorkflowStub(id).describe().getStatus();
    return status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
            || status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
        ? state.status().name()
        : "FAILED";
  }

  // --- the list ---------------------------------------------------------------------------

  /** The statuses the list of batches filters by (any case). */
  static final List<String> LIST_STATUSES = List.of("RUNNING", "COMPLETED", "CANCELLED", "FAILED");

  /**
   * A page of the caller's project's batches (an operator's: of every project), newest first, from
   * Temporal's visibility as the list of generations is ({@link GenerationHistory}'s paging and
   * cursors), each with its counts from its own state.
   */
  public BatchMessages.Listed list(
      String status, String cursorText, String limitText, Caller caller) {
    String project = GenerationHistory.scopedProject(null, caller);
    int limit = GenerationHistory.limit(limitText);
    GenerationVisibility.Filter filter = listFilter(status, project);
    String fingerprint = "batches:" + filter.query();
    GenerationHistory.Cursor cursor = GenerationHistory.Cursor.parse(cursorText, fingerprint);
    if (!cursor.position()) {
      try {
        GenerationVisibility.Page page = visibility.page(filter, cursor.token(), limit);
        return new BatchMessages.Listed(
            page.items().stream().map(this::summary).toList(),
            page.next() == null ? null : GenerationHistory.Cursor.token(fingerprint, page.next()));
      } catch (GenerationVisibility.QueriesUnsupported noQueries) {
        if (cursor.token() != null) {
          throw GenerationHistory.Cursor.invalid();
        }
        // the in-process test server: its lists, filtered here
      } catch (GenerationVisibility.SearchAttributesMissing missing) {
        throw new ApiException(
            HttpStatus.SERVICE_UNAVAILABLE,
            "HISTORY_UNAVAILABLE",
            "The list of batches is not available: the Temporal server does not know the"
                + " Tempera search attributes (an operator registers them)");
      }
    }
    List<WorkflowExecutionMetadata> all = visibility.listedAndFiltered(filter).toList();
    int from = (int) Math.min(cursor.offset(), all.size());
    int to = Math.min(from + limit, all.size());
    return new BatchMessages.Listed(
        all.subList(from, to).stream().map(this::summary).toList(),
        to < all.size() ? GenerationHistory.Cursor.position(fingerprint, to) : null);
  }

  /**
   * The batches of {@code project} (null: every project's) of one status: the current run of each
   * (not the runs it continued as new from), its project by its search attribute or its memo.
   */
  static GenerationVisibility.Filter listFilter(String status, String project) {
    GenerationVisibility.Criteria criteria =
        GenerationVisibility.workflows("BatchWorkflow")
            .where(
                "ExecutionStatus != 'ContinuedAsNew'",
                m ->
                    m.getStatus()
                        != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
    if (project != null) {
      if (!GenerationVisibility.VALUE.matcher(project).matches()) {
        throw GenerationService.unknownProject();
      }
      criteria.where(
          GenerationSearchAttributes.PROJECT.getName() + " = '" + project + "'",
          m -> project.equals(projectOf(m)));
    }
    if (status != null) {
      String wanted = status.strip().toUpperCase(java.util.Locale.ROOT);
      if (!LIST_STATUSES.contains(wanted)) {
        throw ApiException.badRequest(
            "INVALID_STATUS",
            "status is one of running, completed, cancelled, failed; got " + status);
      }
      criteria.where(
          switch (wanted) {
            case "RUNNING" -> "ExecutionStatus = 'Running'";
            case "COMPLETED" -> "ExecutionStatus = 'Completed'";
            case "CANCELLED" -> "ExecutionStatus = 'Canceled'";
            default -> "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')";
          },
          m -> wanted.equals(statusOf(m)));
    }
    return criteria.filter();
  }

  private static String projectOf(WorkflowExecutionMetadata m) {
    String attribute = GenerationVisibility.attribute(m, GenerationSearchAttributes.PROJECT);
    return attribute != null
        ? attribute
        : GenerationVisibility.memo(m, GenerationService.MEMO_PROJECT);
  }

  /** A batch's status as the API shows it, from how its workflow run is (or ended). */
  private static String statusOf(WorkflowExecutionMetadata m) {
    return switch (m.getStatus()) {
      case WORKFLOW_EXECUTION_STATUS_RUNNING -> BatchStatus.RUNNING.name();
      case WORKFLOW_EXECUTION_STATUS_COMPLETED -> BatchStatus.COMPLETED.name();
      case WORKFLOW_EXECUTION_STATUS_CANCELED -> BatchStatus.CANCELLED.name();
      default -> "FAILED";
    };
  }

  /** A listed batch: its status from visibility, its counts from its state, when readable. */
  private BatchMessages.Summary summary(WorkflowExecutionMetadata m) {
    String id = m.getExecution().getWorkflowId();
    String status = statusOf(m);
    BatchMessages.Counts counts = null;
    String function = GenerationVisibility.memo(m, GenerationService.MEMO_FUNCTION);
    String node = null;
    try {
      BatchState state = state(id);
      counts = counts(state);
      function = state.request().generation().functionId();
      node = state.request().generation().nodeId();
    } catch (RuntimeException unreadable) {
      // listed by its workflow alone: no worker answers its query now
    }
    return new BatchMessages.Summary(
        id,
        status,
        function,
        node,
        counts == null ? null : counts.total(),
        counts,
        text(createdAt(m)),
        text(m.getCloseTime()));
  }

  /** A batch's counts, from its own state. */
  private static BatchMessages.Counts counts(BatchState state) {
    return new BatchMessages.Counts(
        state.total(),
        state.waiting(),
        state.inFlight().size(),
        state.succeeded(),
        state.failed(),
        state.cancelled());
  }

  /** 404 unless {@code caller} may read the batch. */
  public void requireAccess(String id, Caller caller) {
    requireOwner(state(id), caller);
  }

  /**
   * Where the batch is now, as its followers see it ({@link BatchFeed}): its status, counts and
   * quota wait, numbered by how far it got (started + ended, + 1 once it ended).
   */
  BatchMessages.Event event(String id) {
    BatchState state = state(id);
    String status = statusOf(id, state);
    boolean ended = !BatchStatus.RUNNING.name().equals(status);
    long eventId = (long) state.started() + state.outcomes().size() + (ended ? 1 : 0);
    return new BatchMessages.Event(
        id,
        eventId,
        status,
        counts(state),
        state.quotaWait() == null || ended
            ? null
            : new BatchMessages.QuotaWait(
                state.quotaWait().code(), state.quotaWait().message(), state.quotaWait().until()));
  }

  /** When the batch was started: its first run's start (it continues as new after a chunk). */
  private java.time.Instant createdAt(WorkflowExecutionMetadata m) {
    String firstRun = m.getWorkflowExecutionInfo().getFirstRunId();
    if (firstRun.isEmpty() || firstRun.equals(m.getExecution().getRunId())) {
      return m.getStartTime();
    }
    try {
      return client
          .newUntypedWorkflowStub(
              m.getExecution().getWorkflowId(),
              java.util.Optional.of(firstRun),
              java.util.Optional.empty())
          .describe()
          .getStartTime();
    } catch (RuntimeException gone) {
      return m.getStartTime(); // its first run is no longer kept: its current run's start
    }
  }

  private static String text(java.time.Instant at) {
    return at == null ? null : java.time.format.DateTimeFormatter.ISO_INSTANT.format(at);
  }

  /** An ended batch with every variation (a webhook's body). */
  public BatchMessages.Batch endView(BatchState state) {
    return toView(state, state.status().name(), 0, Math.max(1, state.total()));
  }

  BatchMessages.Batch toView(BatchState state, String status, int offset, int limit) {
    BatchRequest request = state.request();
    int total = state.total();
    // the generations in flight: waiting for a GPU or holding one, as each tells
    Map<Integer, String> inFlight = new LinkedHashMap<>();
    int queued = 0;
    int running = 0;
    for (int index : state.inFlight()) {
      String shown = GenerationStatus.QUEUED.name();
      try {
        GenerationState child = generations.state(BatchWorkflow.childIdFor(state.batchId(), index));
        shown =
            child == null || child.status() == GenerationStatus.QUEUED
                ? GenerationStatus.QUEUED.name()
                : GenerationStatus.RUNNING.name();
      } catch (RuntimeException notAnswered) {
        // not started yet, or no worker answers: counted as waiting in line
      }
      inFlight.put(index, shown);
      if (shown.equals(GenerationStatus.QUEUED.name())) {
        queued++;
      } else {
        running++;
      }
    }
    Map<Integer, ChildOutcome> outcomes = new LinkedHashMap<>();
    state.outcomes().forEach(o -> outcomes.put(o.index(), o));
    int from = Math.max(0, Math.min(offset, total));
    int size = Math.max(1, limit);
    List<BatchMessages.Item> items = new ArrayList<>();
    for (int index = from; index < Math.min(total, from + size); index++) {
      String generationId = BatchWorkflow.childIdFor(state.batchId(), index);
      ChildOutcome outcome = outcomes.get(index);
      String itemStatus;
      List<BatchMessages.Output> outputs = null;
      BatchMessages.Error error = null;
      if (outcome != null) {
        itemStatus = outcome.status().name();
        outputs =
            outcome.outputs().stream()
                .map(o ->
                    new BatchMessages.Output(
                        o.name(),
                        generations.signed(
                            "/api/generations/" + generationId + "/outputs/" + o.name()),
                        o.contentType()))
                .toList();
        if (outcome.errorCode() != null) {
          error = new BatchMessages.Error(outcome.errorCode(), outcome.errorMessage());
        }
      } else if (inFlight.containsKey(index)) {
        itemStatus = inFlight.get(index);
      } else if (index >= state.started() && state.status() == BatchStatus.CANCELLED) {
        itemStatus = GenerationStatus.CANCELLED.name();
        error = new BatchMessages.Error("CANCELLED", "Never started: the batch was cancelled");
      } else {
        itemStatus = "WAITING";
      }
      items.add(
          new BatchMessages.Item(
              index, generationId, itemStatus, request.varied(index), outputs, error));
    }
    Map<String, List<Object>> sweep = new LinkedHashMap<>();
    request.sweep().forEach(axis -> sweep.put(axis.parameter(), axis.values()));
    GenerationRequest generation = request.generation();
    PriorityLevel priority = PriorityLevel.fromKey(generation.priority());
    return new BatchMessages.Batch(
        state.batchId(),
        status,
        generation.functionId(),
        generation.functionVersion(),
        generation.projectId(),
        generation.nodeId(),
        generation.tier(),
        priority == null ? null : priority.id(),
        request.count(),
        sweep.isEmpty() ? null : sweep,
        request.maxInFlight(),
        new BatchMessages.Progress(
            total,
            state.waiting(),
            queued,
            running,
            state.succeeded(),
            state.failed(),
            state.cancelled()),
        state.quotaWait() == null
            ? null
            : new BatchMessages.QuotaWait(
                state.quotaWait().code(), state.quotaWait().message(), state.quotaWait().until()),
        new BatchMessages.Page(from, size, total, items),
        null);
  }
}
