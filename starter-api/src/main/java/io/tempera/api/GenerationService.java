package io.tempera.api;

import io.tempera.api.webhooks.Webhooks;
import io.tempera.config.TemperaProperties;
import io.tempera.generation.GenerationEnds;
import io.tempera.generation.GenerationRequest;
import io.tempera.generation.GenerationResult;
import io.tempera.generation.GenerationSearchAttributes;
import io.tempera.generation.GenerationState;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.GenerationSummaries;
import io.tempera.generation.GenerationWorkflow;
import io.tempera.generation.OutputRef;
import io.tempera.generation.PriorityLevel;
import io.tempera.outputs.OutputStore;
import io.tempera.progress.ProgressBus;
import io.tempera.progress.ProgressEvent;
import io.tempera.security.Caller;
import io.tempera.template.FunctionTemplate;
import io.tempera.template.ParameterValidator;
import io.tempera.template.QualityTier;
import io.tempera.template.RequestProblem;
import io.tempera.template.TemplateRegistry;
import io.temporal.api.enums.v1.WorkflowExecutionStatus;
import io.temporal.api.enums.v1.WorkflowIdReusePolicy;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowExecutionAlreadyStarted;
import io.temporal.client.WorkflowExecutionMetadata;
import io.temporal.client.WorkflowNotFoundException;
import io.temporal.client.WorkflowOptions;
import io.temporal.client.WorkflowStub;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;

/** Starts, follows and cancels generations: the API's only door to Temporal. Blocking calls. */
@Service
public class GenerationService {

  /**
   * A generation's own requestId; {@code batch-...} is kept for the generations of batches, whose
   * ids a direct request could otherwise take.
   */
  private static final Pattern REQUEST_ID = Pattern.compile("(?!batch-)[A-Za-z0-9_-]{1,100}");

  private static final Pattern GENERATION_ID = Pattern.compile("gen-[A-Za-z0-9_-]{1,120}");

  private final WorkflowClient client;
  private final TemplateRegistry templates;
  private final OutputStore outputs;
  private final ProgressBus progress;
  private final TemperaProperties properties;
  private final io.tempera.config.SchedulingProperties scheduling;
  private final io.tempera.security.SignedUrls signedUrls;
  private final io.tempera.quotas.Quotas quotas;

  /** Ended generations' final states on disk, beside their outputs (readable after a restart). */
  private final io.tempera.history.GenerationRecords records;

  /** Webhooks accepted and their deliveries read (absent: this server delivers none). */
  private Webhooks webhooks;

  /** Ended generations already read, newest last (an ended generation never changes). */
  private final Map<String, GenerationState> endedStates =
      java.util.Collections.synchronizedMap(
          new java.util.LinkedHashMap<>(256, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, GenerationState> eldest) {
              return size() > ENDED_KEPT;
            }
          });

  private static final int ENDED_KEPT = 10_000;

  /**
   * How long a running generation's workflow has to answer its state query. A query is answered by
   * a worker: with none polling (every worker down, or the Temporal server restarting) it would
   * wait for the RPC's own deadline, and the caller with it.
   */
  static final java.time.Duration STATE_QUERY_LIMIT = java.time.Duration.ofSeconds(5);

  private static final java.util.concurrent.ExecutorService QUERIES =
      java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

  /** The memo key holding the function a generation runs (read when a requestId is reused). */
  public static final String MEMO_FUNCTION = "functionId";

  /** The memo key holding the generation's project (read to scope a request to its project). */
  public static final String MEMO_PROJECT = "projectId";

  public GenerationService(
      WorkflowClient client,
      TemplateRegistry templates,
      OutputStore outputs,
      ProgressBus progress,
      TemperaProperties properties,
      io.tempera.security.SignedUrls signedUrls) {
    this(
        client,
        templates,
        outputs,
        progress,
        properties,
        signedUrls,
        io.tempera.config.SchedulingProperties.defaults(),
        io.tempera.quotas.Quotas.unlimited());
  }

  @org.springframework.beans.factory.annotation.Autowired
  public GenerationService(
      WorkflowClient client,
      TemplateRegistry templates,
      OutputStore outputs,
      ProgressBus progress,
      TemperaProperties properties,
      io.tempera.security.SignedUrls signedUrls,
      io.tempera.config.SchedulingProperties scheduling,
      io.tempera.quotas.Quotas quotas) {
    this.scheduling = scheduling;
    this.signedUrls = signedUrls;
    this.quotas = quotas;
    this.client = client;
    this.templates = templates;
    this.outputs = outputs;
    this.progress = progress;
    this.properties = properties;
    this.records = new io.tempera.history.GenerationRecords(outputs);
  }

  /** Which backends have a server configured; null: every one counted as configured. */
  private ConfiguredBackends backends;

  /**
   * Where the API knows the workers' settings (the embedded application), a start of a function
   * whose backend has no server configured is refused at once, as {@code GET /api/functions} does
   * not offer it, instead of failing on a worker.
   */
  @org.springframework.beans.factory.annotation.Autowired(required = false)
  void useConfiguredBackends(ConfiguredBackends backends) {
    this.backends = backends;
  }

  /** The output store's records of ended generations. */
  public io.tempera.history.GenerationRecords records() {
    return records;
  }

  /**
   * The state of a generation known to have ended: read before (kept here) or recorded in the
   * output store; null when neither (it runs, or it ended and nobody read it yet).
   */
  private GenerationState ended(String id) {
    GenerationState ended = endedStates.get(id);
    if (ended != null) {
      return ended;
    }
    Optional<io.tempera.history.GenerationRecords.GenerationRecord> recorded = records.find(id);
    if (recorded.isEmpty()) {
      return null;
    }
    GenerationState state = recorded.get().state();
    endedStates.put(id, state);
    return state;
  }

  /** After its outputs were deleted: the generation's state from now on. */
  public void forget(String id, GenerationState withoutOutputs) {
    endedStates.put(id, withoutOutputs);
  }

  @org.springframework.beans.factory.annotation.Autowired(required = false)
  void setWebhooks(Webhooks webhooks) {
    this.webhooks = webhooks;
  }

  /**
   * Validates and starts a generation for {@code caller}; a repeated requestId returns the
   * generation it started. A project key starts in its own project (projectId may be left out);
   * another project is answered as one that does not exist.
   */
  public ApiMessages.Accepted start(ApiMessages.StartGeneration requested, Caller caller) {
    if (requested == null) {
      throw ApiException.badRequest(
          "INVALID_BODY", "Send a JSON object with functionId, projectId, nodeId and parameters");
    }
    ApiMessages.StartGeneration body =
        requested.projectId() == null && caller.projectId() != null
            ? requested.withProjectId(caller.projectId())
            : requested;
    checkShape(
        body,
        REQUEST_ID,
        "requestId must be 1-100 letters, digits, '_' or '-', not starting with 'batch-' (kept"
            + " for batches' generations)");
    if (!caller.actsFor(body.projectId())) {
      // checked once the request is well formed: a malformed projectId says nothing of projects
      throw unknownProject();
    }
    FunctionTemplate template = templateOf(body, caller);
    Map<String, Object> parameters = body.parameters() == null ? Map.of() : body.parameters();
    List<RequestProblem> problems =
        parameterProblems(template, body.projectId(), parameters, "", "");
    if (!problems.isEmpty()) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT, "INVALID_PARAMETERS", summary(problems), problems);
    }

    parameters = withRandomDraws(template, parameters);
    PriorityLevel priority = priorityOf(body, caller);
    io.tempera.webhooks.Webhook webhook = webhookOf(body);
    String id =
        GenerationWorkflow.workflowIdFor(
            body.projectId(),
            body.requestId() != null ? body.requestId() : UUID.randomUUID().toString());
    GenerationRequest request =
        new GenerationRequest(
            body.functionId(),
            body.tier(),
            parameters,
            body.projectId(),
            body.nodeId(),
            body.requestId(),
            body.functionVersion(),
            priority.key(),
            scheduling.weightOf(body.projectId()),
            webhook);
    // the project's quotas and the queue's bound; a requestId repeated for a generation that
    // exists is answered with it, never refused
    io.tempera.quotas.Admission.Refusal refusal = quotas.admit(body.projectId(), id);
    if (refusal != null && (body.requestId() == null || !exists(id))) {
      throw ApiException.tooManyRequests(
          refusal.code(), refusal.message(), refusal.retryAfterSeconds());
    }
    GenerationWorkflow workflow =
        client.newWorkflowStub(
            GenerationWorkflow.class, startOptions(request, id, properties.searchAttributes()));
    try {
      WorkflowClient.start(workflow::run, request);
      return new ApiMessages.Accepted(id, "QUEUED");
    } catch (RuntimeException notStarted) {
      quotas.withdraw(id); // it was not started here: it does not count as admitted
      if (!(notStarted instanceof WorkflowExecutionAlreadyStarted)) {
        throw notStarted;
      }
      // the generation this requestId started: its function from its memo, its status from Temporal
      WorkflowExecutionMetadata existing = stub(id).describe();
      Object function = existing.getMemo(MEMO_FUNCTION, String.class);
      Object project = existing.getMemo(MEMO_PROJECT, String.class);
      if (!body.projectId().equals(project)) {
        // another project's generation under the same tag: never said to exist
        throw new ApiException(
            HttpStatus.CONFLICT,
            "REQUEST_ID_REUSED",
            "requestId " + body.requestId() + " cannot be used; send another");
      }
      if (!body.functionId().equals(function)) {
        throw new ApiException(
            HttpStatus.CONFLICT,
            "REQUEST_ID_REUSED",
            "requestId "
                + body.requestId()
                + " was already used for a generation of '"
                + function
                + "'");
      }
      return new ApiMessages.Accepted(id, statusOf(id, existing.getStatus()).name());
    }
  }

  /**
   * The checks of a start request's fields before its function is looked at (400 {@code
   * INVALID_REQUEST} naming every problem): functionId, projectId, nodeId, requestId (as {@code
   * requestIds} allows), tier and priority.
   */
  static void checkShape(
      ApiMessages.StartGeneration body, Pattern requestIds, String requestIdRule) {
    List<RequestProblem> problems = new ArrayList<>();
    if (body.functionId() == null || body.functionId().isBlank()) {
      problems.add(new RequestProblem("functionId", "MISSING_FIELD", "functionId is required"));
    }
    requireSegment(body.projectId(), "projectId", problems);
    requireSegment(body.nodeId(), "nodeId", problems);
    if (body.requestId() != null && !requestIds.matcher(body.requestId()).matches()) {
      problems.add(new RequestProblem("requestId", "INVALID_FIELD", requestIdRule));
    }
    if (body.tier() != null && body.tier().length() > 32) {
      problems.add(
          new RequestProblem(
              "tier", "INVALID_FIELD", "tier must be draft, standard, high or ultra"));
    }
    if (body.priority() != null && PriorityLevel.fromId(body.priority()) == null) {
      problems.add(
          new RequestProblem(
              "priority",
              "INVALID_FIELD",
              "priority must be urgent, interactive, normal, low or batch"));
    }
    if (!problems.isEmpty()) {
      throw new ApiException(
          HttpStatus.BAD_REQUEST, "INVALID_REQUEST", summary(problems), problems);
    }
  }

  /**
   * The function (and version) a request names, available on this system's backends; 404 {@code
   * UNKNOWN_FUNCTION} or {@code UNKNOWN_FUNCTION_VERSION}, or the unavailable function's answer.
   */
  FunctionTemplate templateOf(ApiMessages.StartGeneration body) {
    return templateOf(body, null);
  }

  /**
   * The same, the unavailable function's answer worded for {@code caller} (its reasons for an
   * operator key only; null: as for a project key).
   */
  FunctionTemplate templateOf(ApiMessages.StartGeneration body, Caller caller) {
    FunctionTemplate template =
        templates
            .find(body.functionId(), body.functionVersion())
            .orElseThrow(() ->
                body.functionVersion() != null && templates.find(body.functionId()).isPresent()
                    ? new ApiException(
                        HttpStatus.NOT_FOUND,
                        "UNKNOWN_FUNCTION_VERSION",
                        "Function '"
                            + body.functionId()
                            + "' has no version "
                            + body.functionVersion()
                            + " (the newest is "
                            + templates.find(body.functionId()).get().version()
                            + ")")
                    : new ApiException(
                        HttpStatus.NOT_FOUND,
                        "UNKNOWN_FUNCTION",
                        "There is no function '"
                            + body.functionId()
                            + "'; GET /api/functions lists them"));
    List<io.tempera.template.NodeProblem> unavailable =
        new java.util.ArrayList<>(backends == null ? List.of() : backends.problems(template));
    unavailable.addAll(templates.unavailability(template));
    if (!unavailable.isEmpty()) {
      throw FunctionController.unavailable(template, unavailable, caller);
    }
    return template;
  }

  /**
   * What is wrong with {@code parameters} for {@code template} in {@code projectId}: the template's
   * rules, and each image parameter naming a file of the project that is not there. Each problem's
   * field is prefixed with {@code prefix} (a batch's variation).
   */
  List<RequestProblem> parameterProblems(
      FunctionTemplate template,
      String projectId,
      Map<String, Object> parameters,
      String fieldPrefix,
      String prefix) {
    List<RequestProblem> problems = new ArrayList<>();
    for (RequestProblem problem : ParameterValidator.validate(template, parameters)) {
      problems.add(
          prefix.isEmpty()
              ? problem
              : new RequestProblem(
                  fieldPrefix + problem.field(), problem.code(), prefix + problem.message()));
    }
    for (var spec : template.parameters().values()) {
      Object value = parameters.get(spec.name());
      if (spec.type().equals("image")
          && value instanceof String path
          && ParameterValidator.isProjectPath(path)) {
        Path file = outputs.projectDir(projectId).resolve(path).normalize();
        // only the project's own uploads and outputs, each reached without a symbolic link
        boolean own = path.startsWith("uploads/") || path.startsWith("outputs/");
        if (!own || !outputs.isRegularFile(file)) {
          problems.add(
              new RequestProblem(
                  fieldPrefix + "parameters." + spec.name(),
                  "FILE_NOT_FOUND",
                  prefix
                      + "'"
                      + spec.name()
                      + "' names "
                      + path
                      + ", which is not in project "
                      + projectId
                      + " (upload it first with POST /api/projects/"
                      + projectId
                      + "/uploads)"));
        }
      }
    }
    return problems;
  }

  /** The webhook a request names, accepted for its project; null when it names none. */
  io.tempera.webhooks.Webhook webhookOf(ApiMessages.StartGeneration body) {
    if (body.webhook() == null) {
      return null;
    }
    if (webhooks == null) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "WEBHOOKS_UNAVAILABLE",
          "This server delivers no webhooks");
    }
    return webhooks.accept(body.projectId(), body.webhook().url());
  }

  /**
   * {@code parameters} with a fresh random value for each random parameter (a seed) the request
   * left out, drawn between its bounds: the value is part of the generation's request, so its state
   * shows it and sending it again reproduces the result; identical requests without one are
   * different generations.
   */
  static Map<String, Object> withRandomDraws(
      FunctionTemplate template, Map<String, Object> parameters) {
    Map<String, Object> drawn = null;
    for (var spec : template.parameters().values()) {
      if (spec.random() && !parameters.containsKey(spec.name())) {
        if (drawn == null) {
          drawn = new java.util.LinkedHashMap<>(parameters);
        }
        drawn.put(
            spec.name(),
            java.util.concurrent.ThreadLocalRandom.current()
                .nextLong(spec.randomLow(), spec.randomHigh() + 1));
      }
    }
    return drawn == null ? parameters : drawn;
  }

  /**
   * The priority a generation runs at: the one it asks for, else its tier's default. A project key
   * may only lower its own (422 {@code PRIORITY_NOT_ALLOWED} when it asks for more than its tier's
   * default); an operator may ask for any.
   */
  PriorityLevel priorityOf(ApiMessages.StartGeneration body, Caller caller) {
    QualityTier tier = QualityTier.resolve(body.tier()).tier();
    PriorityLevel standing = scheduling.defaultFor(tier);
    if (body.priority() == null) {
      return standing;
    }
    PriorityLevel asked = PriorityLevel.fromId(body.priority());
    if (asked.key() < standing.key() && !caller.operator()) {
      throw new ApiException(
          HttpStatus.UNPROCESSABLE_CONTENT,
          "PRIORITY_NOT_ALLOWED",
          "A "
              + tier.id()
              + " generation runs at priority "
              + standing.id()
              + " or lower; only an operator may ask for "
              + asked.id());
    }
    return asked;
  }

  /**
   * How a generation starts (the API's starts and {@code ops retry} alike): on its tier's queue,
   * under {@code id}, its function and project in its memo, its summary and details for the
   * Temporal UI, and the Tempera search attributes when {@code searchAttributes}.
   */
  public static WorkflowOptions startOptions(
      GenerationRequest request, String id, boolean searchAttributes) {
    WorkflowOptions.Builder options =
        WorkflowOptions.newBuilder()
            .setTaskQueue(taskQueueFor(request))
            .setWorkflowId(id)
            .setWorkflowIdReusePolicy(
                WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE)
            .setMemo(memo(request))
            .setStaticSummary(GenerationSummaries.of(request))
            .setStaticDetails(GenerationSummaries.details(request));
    if (searchAttributes) {
      options.setTypedSearchAttributes(GenerationSearchAttributes.of(request));
    }
    if (request.priority() != null) {
      // Temporal's task-queue priority and fairness: the workflow's tasks and (inherited) its
      // activities' wait for a worker in this order, where the server has them on
      io.temporal.common.Priority.Builder priority =
          io.temporal.common.Priority.newBuilder()
              .setPriorityKey(request.priority())
              .setFairnessKey(request.projectId());
      if (request.fairShareWeight() != null) {
        priority.setFairnessWeight(request.fairShareWeight());
      }
      options.setPriority(priority.build());
    }
    return options.build();
  }

  /** A generation's memo: its function, its project and its webhook's URL if it names one. */
  private static Map<String, Object> memo(GenerationRequest request) {
    Map<String, Object> memo = new java.util.LinkedHashMap<>();
    memo.put(MEMO_FUNCTION, request.functionId());
    memo.put(MEMO_PROJECT, request.projectId());
    if (request.webhook() != null) {
      memo.put(Webhooks.MEMO_WEBHOOK, request.webhook().url());
    }
    return memo;
  }

  /** The queue a generation starts on: its tier's, served by the workers running that tier. */
  static String taskQueueFor(GenerationRequest request) {
    return GenerationWorkflow.taskQueueFor(
        io.tempera.template.QualityTier.resolve(request.tier()).tier().id());
  }

  /** The generation's state from its workflow, with the latest live progress laid over it. */
  public ApiMessages.Generation view(String id) {
    return toView(state(id), progress.latest(id));
  }

  /** {@link #view(String)} of a generation {@code caller} acts for; any other is a 404. */
  public ApiMessages.Generation view(String id, Caller caller) {
    GenerationState state = state(id);
    requireOwner(state.projectId(), caller);
    ApiMessages.Generation view = toView(state, progress.latest(id));
    if (webhooks == null) {
      return view;
    }
    return view.withWebhook(
        webhooks.view(id, state.status().terminal(), () -> webhookInMemo(id)).orElse(null));
  }

  /** The webhook URL in a generation's memo; null without one, or once Temporal forgot it. */
  private String webhookInMemo(String id) {
    try {
      return (String) stub(id).describe().getMemo(Webhooks.MEMO_WEBHOOK, String.class);
    } catch (RuntimeException e) {
      if (isNotFound(e)) {
        return null;
      }
      throw e;
    }
  }

  /**
   * Refuses, as if it did not exist, a generation of a project {@code caller} does not act for.
   * Reads the project from the workflow's memo (a describe, no query), or from the state of one
   * that ended.
   */
  public void requireAccess(String id, Caller caller) {
    if (caller.operator()) {
      stub(id); // still only ids that can be generations'
      return;
    }
    GenerationState ended = ended(id);
    String project;
    if (ended != null) {
      project = ended.projectId();
    } else {
      project = (String) stub(id).describe().getMemo(MEMO_PROJECT, String.class);
      if (project == null) {
        project = state(id).projectId();
      }
    }
    requireOwner(project, caller);
  }

  private static void requireOwner(String project, Caller caller) {
    if (caller == null || !caller.actsFor(project)) {
      throw ApiException.notFound("There is no such generation");
    }
  }

  /** The answer to a project a key does not act for: as if it did not exist. */
  static ApiException unknownProject() {
    return new ApiException(
        HttpStatus.NOT_FOUND, "UNKNOWN_PROJECT", "There is no such project for this key");
  }

  /**
   * A path of this API that works without a key for a while ({@link
   * io.tempera.security.SignedUrls}).
   */
  public String signed(String path) {
    return path == null ? null : signedUrls.sign(path);
  }

  /**
   * The generation's image parameters whose value is one of its project's uploads, each with a
   * signed URL to read it back (null: none, or its function's template is no longer loaded).
   */
  private List<ApiMessages.UploadedInput> uploadedInputs(GenerationState state) {
    if (state.parameters().isEmpty() || state.functionId() == null) {
      return null;
    }
    Optional<FunctionTemplate> template =
        templates.find(state.functionId(), state.functionVersion());
    if (template.isEmpty()) {
      return null;
    }
    List<ApiMessages.UploadedInput> inputs = new ArrayList<>();
    for (var spec : template.get().parameters().values()) {
      if (spec.type().equals("image")
          && state.parameters().get(spec.name()) instanceof String path
          && UploadController.isUploadPath(path)
          && OutputStore.safeSegment(state.projectId())) {
        inputs.add(
            new ApiMessages.UploadedInput(
                spec.name(), path, signed(UploadController.readBackPath(state.projectId(), path))));
      }
    }
    return inputs.isEmpty() ? null : inputs;
  }

  /** Whether a signed URL grants {@code path}. */
  public boolean grants(String path, String expires, String signature) {
    return signedUrls.grants(path, expires, signature);
  }

  /**
   * Where the generation is: a running one answers its query; one that ended is read from its
   * result or failure (kept here once read: an ended generation never changes).
   */
  public GenerationState state(String id) {
    GenerationState ended = ended(id);
    if (ended != null) {
      return ended;
    }
    WorkflowStub stub = stub(id);
    io.temporal.client.WorkflowExecutionDescription described = stub.describe();
    if (described.getStatus() == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING) {
      return queryState(stub);
    }
    GenerationState state = GenerationEnds.of(stub).asState();
    endedStates.put(id, state);
    // on disk too: readable once Temporal no longer has the workflow
    records.write(
        new io.tempera.history.GenerationRecords.GenerationRecord(
            state, described.getStartTime(), described.getCloseTime(), false));
    return state;
  }

  /**
   * A running generation's state from its workflow's query, within {@link #STATE_QUERY_LIMIT}; a
   * 503 when no worker answered in time (the generation itself is not harmed: it goes on once a
   * worker polls again).
   */
  private static GenerationState queryState(WorkflowStub stub) {
    java.util.concurrent.Future<GenerationState> query =
        QUERIES.submit(() -> stub.query("state", GenerationState.class));
    try {
      return query.get(STATE_QUERY_LIMIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException noWorker) {
      query.cancel(true);
      throw new ApiException(
          HttpStatus.SERVICE_UNAVAILABLE,
          "NO_WORKER",
          "No worker answers for this generation right now; it goes on when one is back.");
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      query.cancel(true);
      throw new IllegalStateException("interrupted while asking for a generation's state");
    } catch (java.util.concurrent.ExecutionException failed) {
      if (failed.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(failed.getCause());
    }
  }

  /**
   * The status of a generation from its workflow's: ended ones as they ended, else QUEUED or
   * RUNNING.
   */
  private GenerationStatus statusOf(String id, WorkflowExecutionStatus status) {
    return switch (status) {
      case WORKFLOW_EXECUTION_STATUS_RUNNING ->
          stub(id).query("state", GenerationState.class).status();
      case WORKFLOW_EXECUTION_STATUS_COMPLETED -> GenerationStatus.SUCCEEDED;
      case WORKFLOW_EXECUTION_STATUS_CANCELED -> GenerationStatus.CANCELLED;
      default -> GenerationStatus.FAILED;
    };
  }

  /** Whether a generation with this id was started (running or ended). */
  boolean exists(String id) {
    try {
      stub(id).describe();
      return true;
    } catch (RuntimeException e) {
      if (isNotFound(e)) {
        return false;
      }
      throw e;
    }
  }

  /** Whether the generation's workflow still runs (one describe; an ended one is remembered). */
  public boolean running(String id) {
    return ended(id) == null
        && stub(id).describe().getStatus()
            == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  }

  /**
   * Completes when the generation ends: a long poll on Temporal, which the in-process server serves
   * with a thread of its own while it waits.
   */
  public java.util.concurrent.CompletableFuture<GenerationResult> result(String id) {
    return stub(id).getResultAsync(GenerationResult.class);
  }

  /**
   * Cancels the generation the Temporal way (as a cancel from the Temporal UI does); it ends
   * Canceled.
   */
  public ApiMessages.Generation cancel(String id, String reason, Caller caller) {
    GenerationState state = state(id);
    requireOwner(state.projectId(), caller);
    if (!state.status().terminal()) {
      stub(id).cancel(reason == null ? "cancelled by the user" : reason);
    }
    return view(id);
  }

  /**
   * The stored file of one of the generation's outputs, for {@code caller} (null: a signed URL
   * granted it).
   */
  public Map.Entry<OutputRef, Path> output(String id, String name, Caller caller) {
    GenerationState state = state(id);
    if (caller != null) {
      requireOwner(state.projectId(), caller);
    }
    OutputRef ref =
        state.outputs().stream()
            .filter(o -> o.name().equals(name))
            .findFirst()
            .orElseThrow(() ->
                ApiException.notFound("Generation " + id + " has no output named '" + name + "'"));
    Path file = outputs.resolve(ref.path());
    if (outputs.regularFile(file).isEmpty()) {
      if (hasLink(file)) {
        // replaced by a symbolic link: refused as if absent, without saying what is there
        throw ApiException.notFound("Generation " + id + " has no output named '" + name + "'");
      }
      throw new ApiException(
          HttpStatus.GONE, "OUTPUT_GONE", "Output '" + name + "' is no longer stored");
    }
    return Map.entry(ref, file);
  }

  /**
   * Whether something is at {@code file} that {@code regularFile} refuses: a symbolic link there or
   * above it, or not a file.
   */
  private static boolean hasLink(Path file) {
    return Files.exists(file, java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }

  /** The latest preview image of a running generation. */
  public Path preview(String id, Caller caller) {
    GenerationState state = state(id);
    if (caller != null) {
      requireOwner(state.projectId(), caller);
    }
    Path file = outputs.previewFile(state.projectId(), id);
    if (!outputs.isRegularFile(file)) {
      throw ApiException.notFound("Generation " + id + " has no preview (yet)");
    }
    return file;
  }

  public ApiMessages.Generation toView(GenerationState state, Optional<ProgressEvent> live) {
    double progressValue = state.progress();
    String message = state.phase().message();
    Integer step = null;
    Integer totalSteps = null;
    Integer queuePosition = state.queuePosition();
    Integer etaSeconds = null;
    Integer startsInSeconds = null;
    // in its pool's line for a GPU slot while the workflow says so (a live event of the line may
    // outlive the wait by a moment)
    String waitingFor =
        state.phase() == io.tempera.generation.Phase.WAITING_FOR_SLOT
            ? ProgressEvent.WAITING_FOR_SLOT
            : null;
    String previewUrl = null;
    long eventId = live.map(ProgressEvent::seq).orElse(0L);
    if (!state.status().terminal() && live.isPresent()) {
      ProgressEvent event = live.get();
      progressValue = Math.max(progressValue, event.progress());
      if (event.message() != null) {
        message = event.message();
      }
      step = event.step();
      totalSteps = event.totalSteps();
      // waiting for a GPU: the place the allocator published or the workflow was told, whichever
      // is newer (a place in line only ever moves forward)
      queuePosition = nearer(state.queuePosition(), event.queuePosition());
      etaSeconds = event.etaSeconds();
      startsInSeconds = event.startsInSeconds();
      if (ProgressEvent.WAITING_FOR_BACKEND.equals(event.waitingFor())) {
        waitingFor = event.waitingFor(); // its run waits in the backend's own queue
      }
      previewUrl = signed(event.previewUrl());
    }
    if (state.error() != null) {
      message = state.error().message();
    }
    String id = state.generationId();
    return new ApiMessages.Generation(
        id,
        state.status().name(),
        state.phase().name(),
        Math.min(1.0, progressValue),
        message,
        step,
        totalSteps,
        queuePosition,
        etaSeconds,
        startsInSeconds,
        waiting(waitingFor, queuePosition, startsInSeconds),
        previewUrl,
        state.functionId(),
        state.functionVersion(),
        state.projectId(),
        state.nodeId(),
        state.tierRequested(),
        state.tierUsed(),
        state.warnings(),
        state.outputs().stream()
            .map(o ->
                new ApiMessages.Output(
                    o.name(),
                    signed("/api/generations/" + id + "/outputs/" + o.name()),
                    o.contentType(),
                    o.sizeBytes(),
                    o.width(),
                    o.height()))
            .toList(),
        state.values().stream().map(ApiMessages.Value::of).toList(),
        state.error() == null
            ? null
            : new ApiMessages.Failure(
                state.error().code(),
                state.error().message(),
                state.error().suggestion(),
                state.error().action(),
                state.error().retryable()),
        state.fallbacks(),
        state.variant(),
        state.modelColdStartMillis(),
        state.parameters().isEmpty() ? null : state.parameters(),
        uploadedInputs(state),
        eventId,
        null);
  }

  /** What a generation waits for, with its place and wait (null: it waits for nothing). */
  static ApiMessages.Waiting waiting(String waitingFor, Integer position, Integer startsIn) {
    return waitingFor == null ? null : new ApiMessages.Waiting(waitingFor, position, startsIn);
  }

  /** The smaller of two places in line (either may be unknown). */
  private static Integer nearer(Integer a, Integer b) {
    if (a == null) {
      return b;
    }
    return b == null ? a : Math.min(a, b);
  }

  private WorkflowStub stub(String id) {
    if (id == null || !GENERATION_ID.matcher(id).matches()) {
      throw ApiException.notFound("There is no generation '" + id + "'");
    }
    return client.newUntypedWorkflowStub(id);
  }

  /** Whether an exception means the generation does not exist. */
  public static boolean isNotFound(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof WorkflowNotFoundException) {
        return true;
      }
      if (t instanceof io.grpc.StatusRuntimeException s
          && s.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
        return true;
      }
    }
    return false;
  }

  private static void requireSegment(String value, String field, List<RequestProblem> problems) {
    if (value == null || value.isBlank()) {
      problems.add(new RequestProblem(field, "MISSING_FIELD", field + " is required"));
    } else if (!OutputStore.safeSegment(value)) {
      problems.add(
          new RequestProblem(
              field,
              "INVALID_FIELD",
              field
                  + " must be 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit"));
    }
  }

  private static String summary(List<RequestProblem> problems) {
    return problems.size() == 1
        ? problems.get(0).message()
        : problems.size()
            + " problems: "
            + String.join("; ", problems.stream().map(RequestProblem::message).toList());
  }
}
