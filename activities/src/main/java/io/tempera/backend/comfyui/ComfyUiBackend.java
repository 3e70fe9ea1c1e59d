package io.tempera.backend.comfyui;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendFailures;
import io.tempera.backend.BackendMessages;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.CircuitBreaker;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.FileInput;
import io.tempera.generation.PartialFiles;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs generation jobs on ComfyUI: uploads file inputs, runs the graph, maps failures. With several
 * endpoints, a job goes to the first whose circuit breaker is closed; a job already on an endpoint
 * (an earlier attempt submitted it) is always followed there, so no prompt runs twice.
 */
public final class ComfyUiBackend implements Backend {

  public static final String TYPE = "comfyui";
  private static final Logger log = LoggerFactory.getLogger(ComfyUiBackend.class);

  private final List<ComfyUiEndpoint> endpoints;

  /** Clients of model services started on this host (a job's {@code baseUrl}), by URL. */
  private final java.util.Map<String, ComfyUiEndpoint> modelEndpoints =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final ComfyUiClientOptions modelClientOptions;

  public ComfyUiBackend(List<ComfyUiEndpoint> endpoints) {
    this(endpoints, ComfyUiClientOptions.defaults());
  }

  /**
   * @param modelClientOptions options of the clients made for jobs that name their own base URL
   */
  public ComfyUiBackend(List<ComfyUiEndpoint> endpoints, ComfyUiClientOptions modelClientOptions) {
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("at least one ComfyUI endpoint is needed");
    }
    this.endpoints = List.copyOf(endpoints);
    this.modelClientOptions = modelClientOptions;
  }

  /** The endpoint of a model service at this base URL (a container started for the job). */
  private ComfyUiEndpoint modelEndpoint(String baseUrl) {
    return modelEndpoints.computeIfAbsent(
        baseUrl, url -> endpoint(new ComfyUiClient(java.net.URI.create(url), modelClientOptions)));
  }

  /** Closes the clients made for model services. */
  public void closeModelClients() {
    modelEndpoints.values().forEach(e -> e.client().close());
    modelEndpoints.clear();
  }

  /** One endpoint with a default breaker (3 failures in a row open it for 30 s). */
  public static ComfyUiBackend single(ComfyUiClient client) {
    return new ComfyUiBackend(List.of(endpoint(client)));
  }

  /** An endpoint named after its URL, with a default breaker. */
  public static ComfyUiEndpoint endpoint(ComfyUiClient client) {
    return new ComfyUiEndpoint(
        client.baseUrl().toString(),
        client,
        new io.tempera.backend.CircuitBreaker(
            3, java.time.Duration.ofSeconds(30), java.time.Clock.systemUTC()));
  }

  @Override
  public String type() {
    return TYPE;
  }

  public List<ComfyUiEndpoint> endpoints() {
    return endpoints;
  }

  /**
   * The ComfyUI client_id of a run: stable across attempts so a re-attached socket gets its events.
   */
  static String clientIdFor(BackendJob job) {
    return "tempera-" + job.runId();
  }

  @Override
  public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
    ComfyUiEndpoint endpoint =
        job.baseUrl() != null
            ? modelEndpoint(job.baseUrl())
            : endpointHolding(job.runId()).orElseGet(this::healthyEndpoint);
    try {
      ObjectNode graph = job.plan().payload().deepCopy();
      for (FileInput input : job.plan().fileInputs()) {
        Path file = Backend.inputFile(projectDir, input);
        UploadedImage uploaded = endpoint.client().uploadImage(file, file.getFileName().toString());
        ((ObjectNode) graph.get(input.node()).get("inputs"))
            .put(input.input(), uploaded.loadImageValue());
      }
      PromptResult result =
          endpoint
              .client()
              .run(
                  graph,
                  job.runId(),
                  clientIdFor(job),
                  update -> progress.accept(toProgress(update)),
                  // with other servers to go to, one that is down at the start is not waited for
                  job.baseUrl() != null || endpoints.size() == 1,
                  // a model container that dies is the model host's to restart (perhaps on another
                  // port), and the retry follows it there: its old address is not waited for
                  job.baseUrl() != null
                      ? java.time.Duration.ZERO
                      : endpoint.client().options().restartGrace());
      endpoint.breaker().onSuccess();
      return switch (result.status()) {
        case SUCCESS ->
            new BackendOutcome(job.runId(), false, files(result, endpoint), result.submitted());
        case INTERRUPTED ->
            new BackendOutcome(job.runId(), true, files(result, endpoint), result.submitted());
        case ERROR ->
            throw executionFailure(
                result.error(),
                files(result, endpoint),
                job.plan().payload(),
                "ComfyUI (" + endpoint.name() + ")");
      };
    } catch (ComfyUiException e) {
      if (e.kind() != ComfyUiException.Kind.VALIDATION
          && e.kind() != ComfyUiException.Kind.MISSING_NODE
          && e.kind() != ComfyUiException.Kind.ABORTED) {
        endpoint.breaker().onFailure();
      }
      throw toFailure(e, endpoint);
    }
  }

  @Override
  public void cancel(BackendJob job) {
    if (job.baseUrl() != null) {
      ComfyUiEndpoint endpoint = modelEndpoint(job.baseUrl());
      try {
        endpoint.client().cancel(job.runId());
      } catch (ComfyUiException e) {
        throw toFailure(e, endpoint);
      }
      return;
    }
    ComfyUiException last = null;
    for (ComfyUiEndpoint endpoint : endpoints) {
      try {
        endpoint
            .client()
            .cancel(job.runId()); // targeted by prompt id: a no-op where it is not running
      } catch (ComfyUiException e) {
        last = e;
        log.warn(
            "cancelling run {} on {} failed: {}", job.runId(), endpoint.name(), e.getMessage());
      }
    }
    if (last != null && endpoints.size() == 1) {
      throw toFailure(last, endpoints.get(0));
    }
  }

  @Override
  public long download(BackendFile file, Path target) {
    ComfyUiEndpoint endpoint =
        endpoints.stream()
            .filter(e -> e.name().equals(file.origin()))
            .findFirst()
            .orElseGet(() ->
                file.origin() != null && file.origin().startsWith("http")
                    ? modelEndpoint(file.origin())
                    : endpoints.get(0));
    try {
      return endpoint
          .client()
          .download(
              new OutputFile(
                  file.producer(), file.kind(), file.filename(), file.subfolder(), file.type()),
              target);
    } catch (ComfyUiException e) {
      throw toFailure(e, endpoint);
    }
  }

  /** The endpoint where an earlier attempt already submitted this run, if any answers. */
  private Optional<ComfyUiEndpoint> endpointHolding(String runId) {
    if (endpoints.size() == 1) {
      return Optional.of(endpoints.get(0));
    }
    for (ComfyUiEndpoint endpoint : endpoints) {
      try {
        if (endpoint.client().history(runId).isPresent()
            || endpoint.client().queueStatus(runId).known()) {
          return Optional.of(endpoint);
        }
      } catch (ComfyUiException e) {
        log.debug(
            "endpoint {} did not answer whether it holds run {}: {}",
            endpoint.name(),
            runId,
            e.getMessage());
      }
    }
    return Optional.empty();
  }

  /** The first endpoint whose breaker lets a call through; fails retryably when none does. */
  private ComfyUiEndpoint healthyEndpoint() {
    return CircuitBreaker.firstAllowed(endpoints, ComfyUiEndpoint::breaker, "ComfyUI");
  }

  private static List<BackendFile> files(PromptResult result, ComfyUiEndpoint endpoint) {
    return result.outputs().stream()
        .map(o ->
            new BackendFile(
                o.nodeId(), o.kind(), o.filename(), o.subfolder(), o.type(), endpoint.name()))
        .toList();
  }

  private static BackendProgress toProgress(ProgressUpdate update) {
    String message =
        switch (update.stage()) {
          case QUEUED -> "Waiting in the generator's queue";
          case SERVER_DOWN -> BackendProgress.NOT_ANSWERING;
          case STARTED -> "Starting";
          case NODE_STARTED, NODE_FINISHED -> "Generating";
          case STEP, PREVIEW ->
              update.step() != null && update.totalSteps() != null
                  ? "Generating step " + update.step() + " of " + update.totalSteps()
                  : "Generating";
        };
    return new BackendProgress(
        update.fraction(),
        update.step(),
        update.totalSteps(),
        update.queuePosition(),
        message,
        update.previewBytes(),
        update.stage() == ProgressUpdate.Stage.SERVER_DOWN);
  }

  /**
   * A failed run, carrying the files it produced before failing ({@link PartialFiles}, the first
   * detail). The person reads a sentence for the kind of failure ({@link BackendMessages}), naming
   * the node by its id and class as the server echoed them; what the server said goes to operators
   * only (the last detail, and the log).
   */
  public static ApplicationFailure executionFailure(
      ExecutionError error, List<BackendFile> partial) {
    return executionFailure(error, partial, null, "ComfyUI");
  }

  /**
   * A failed run of {@code graph}: the failing node is named by its id and class type in the
   * template's graph, never by what the server calls it.
   *
   * @param graph the graph that ran (null: the server's node id and type are taken as they are)
   * @param where the server, for the log
   */
  static ApplicationFailure executionFailure(
      ExecutionError error, List<BackendFile> partial, ObjectNode graph, String where) {
    PartialFiles details = new PartialFiles(partial);
    if (error == null) {
      return ApplicationFailure.newNonRetryableFailure(
          "The generator reported an error without details",
          ErrorCode.EXECUTION_ERROR.name(),
          details);
    }
    String nodeId = error.nodeId();
    String classType = error.nodeType();
    if (graph != null) {
      JsonNode node = nodeId == null ? null : graph.get(nodeId);
      if (node != null && node.path("class_type").isTextual()) {
        classType = node.path("class_type").asText();
      } else {
        nodeId = null;
        classType = null;
      }
    }
    BackendMessages.Mapped mapped =
        BackendMessages.nodeFailure(
            nodeId, classType, error.exceptionType(), error.exceptionMessage());
    ErrorCode code =
        error.outOfMemory()
            ? ErrorCode.OUT_OF_GPU_MEMORY
            : error.transientFault()
                // not retried here (a retry would re-attach to this failed run): the generation
                // runs again under a new run id
                ? ErrorCode.BACKEND_FAULT
                : ErrorCode.EXECUTION_ERROR;
    return BackendMessages.failure(
        mapped.message(), code, true, where, error.operatorText(), details);
  }

  public static ApplicationFailure toFailure(ComfyUiException e, ComfyUiEndpoint endpoint) {
    String where = "ComfyUI (" + endpoint.name() + ")";
    return switch (e.kind()) {
      case VALIDATION ->
          BackendMessages.failure(
              e.userMessage(), ErrorCode.BACKEND_VALIDATION, true, where, e.operatorText());
      case MISSING_NODE ->
          BackendMessages.failure(
              BackendMessages.missingNode(e.missingNodeClass()),
              ErrorCode.MISSING_NODE,
              true,
              where,
              e.getMessage());
      case UNREACHABLE, SERVER_ERROR, TIMEOUT, PROTOCOL, NOT_FOUND, ABORTED ->
          BackendFailures.of(e.fault().orElseThrow(), where, e);
    };
  }
}
