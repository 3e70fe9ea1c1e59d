package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
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
import io.tempera.generation.GenerationFailures;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs generation jobs on Gradio apps. The payload (from a template with {@code "backend": {"type":
 * "gradio", "api_name": "/generate"}}) is {@code {"api_name": "/generate", "inputs": {target:
 * value}}}, where a target is one of the endpoint's parameter names (as {@code {prefix}/info} lists
 * them) or a zero-based position; image parameters arrive as {@link FileInput}s and are uploaded
 * and sent as FileData. Inputs the template does not give take the endpoint's defaults; a required
 * one missing, or a name the endpoint does not have, is a BACKEND_MISCONFIGURED failure naming it
 * (for operators; the person reads that the function is unavailable).
 *
 * <p>Exactly once: Gradio keeps no record of a prediction once the session that joined it is gone
 * (when its event stream disconnects the server drops the session's jobs), so a run cannot be
 * re-attached. Each submission joins a fresh session; one that loses its stream cancels its job,
 * waits until an app of the pool answers (up to the restart grace) and submits again, at most
 * {@link #MAX_SUBMISSIONS} tries an attempt, so at most one prediction of a run is ever followed. A
 * cancel ({@link #cancel}) reaches {@code {prefix}/cancel} for the prediction this worker is
 * following; the following attempt also cancels it when its activity is cancelled (its thread is
 * interrupted).
 *
 * <p>Results ({@link GradioOutputs}): output files are {@link BackendFile}s with {@code kind} the
 * output's name, {@code filename} the file's name, {@code subfolder} its path on the server, {@code
 * type} its url and {@code origin} the app; every other output is a value of the outcome.
 */
public final class GradioBackend implements Backend {

  public static final String TYPE = "gradio";
  private static final Logger log = LoggerFactory.getLogger(GradioBackend.class);

  private final List<GradioEndpoint> endpoints;
  private final ObjectMapper json = new ObjectMapper();

  /** The prediction each run of this worker is following, for {@link #cancel}. */
  private final Map<String, Active> active = new ConcurrentHashMap<>();

  private record Active(GradioEndpoint endpoint, String sessionHash, int fnIndex, String eventId) {}

  /**
   * @param endpoints may be empty: every gradio job then fails with a clear BACKEND_UNREACHABLE
   */
  public GradioBackend(List<GradioEndpoint> endpoints) {
    this.endpoints = List.copyOf(endpoints);
  }

  /**
   * An endpoint named after its URL, with a default breaker (3 failures in a row open it for 30 s).
   */
  public static GradioEndpoint endpoint(GradioClient client) {
    return new GradioEndpoint(
        client.baseUrl().toString(),
        client,
        new CircuitBreaker(3, Duration.ofSeconds(30), Clock.systemUTC()));
  }

  public static GradioBackend single(GradioClient client) {
    return new GradioBackend(List.of(endpoint(client)));
  }

  @Override
  public String type() {
    return TYPE;
  }

  public List<GradioEndpoint> endpoints() {
    return endpoints;
  }

  @Override
  public BackendOutcome run(BackendJob job, Path projectDir, Consumer<BackendProgress> progress) {
    ObjectNode payload = job.plan().payload();
    String apiName = payload.path("api_name").asText("");
    List<String> told = new ArrayList<>();
    int submissions = 0;
    int lost = 0;
    GradioEndpoint lostOn = null;
    boolean rediscovered = false;
    List<GradioEndpoint> pool =
        job.baseUrl() != null
            ? List.of(modelEndpoint(java.net.URI.create(job.baseUrl())))
            : endpoints;
    while (true) {
      Picked picked = pick(pool, progress);
      GradioEndpoint endpoint = picked.endpoint();
      GradioClient client = endpoint.client();
      String sessionHash =
          "tempera" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
      try {
        GradioApi.Endpoint fn = picked.api().endpoints().get(apiName);
        if (fn == null) {
          endpoint.breaker().onSuccess(); // it answers: only its API is not what we need
          throw misconfigured(
              endpoint,
              "its Gradio app has no endpoint " + apiName,
              "the Gradio app at "
                  + endpoint.name()
                  + " has no endpoint '"
                  + apiName
                  + "' (it has: "
                  + picked.api().endpoints().keySet()
                  + ")");
        }
        Map<String, JsonNode> given = new HashMap<>();
        payload.path("inputs").fields().forEachRemaining(e -> given.put(e.getKey(), e.getValue()));
        for (FileInput input : job.plan().fileInputs()) {
          Path file = Backend.inputFile(projectDir, input);
          given.put(
              input.input(), client.fileData(client.upload(file), file.getFileName().toString()));
        }
        ArrayNode data = positional(fn, given, endpoint);
        submissions++;
        if (submissions > 1) {
          String again =
              (endpoint == lostOn
                      ? "The generator restarted and dropped the run; it was submitted again"
                      : "The generator went away mid-run; the run was submitted to another one")
                  + " (submission "
                  + submissions
                  + ")";
          progress.accept(new BackendProgress(0, null, null, null, again, null, true));
          told.add(again);
        }
        GradioApi.Endpoint called = fn;
        GradioResult result =
            client.predict(
                fn,
                data,
                sessionHash,
                progress,
                eventId ->
                    active.put(
                        job.runId(), new Active(endpoint, sessionHash, called.fnIndex(), eventId)));
        endpoint.breaker().onSuccess();
        told.addAll(result.warnings());
        return outcome(job, endpoint, fn, result, told);
      } catch (GradioException e) {
        if (e.kind() == GradioException.Kind.ABORTED) {
          return new BackendOutcome(
              job.runId(), true, List.of(), true); // the client has cancelled the job
        }
        if (gone(e) && ++lost < MAX_SUBMISSIONS) {
          // Gradio drops a disconnected session's jobs: nothing to re-attach to, the run is
          // submitted again once the app answers (pick waits for it)
          endpoint.breaker().onFailure();
          lostOn = endpoint;
          log.warn(
              "generation {} run {}: the Gradio app at {} went away mid-run ({}); submitting it"
                  + " again once an app answers",
              job.generationId(),
              job.runId(),
              endpoint.name(),
              e.getMessage());
          continue;
        }
        if (e.kind() == GradioException.Kind.NOT_FOUND && !rediscovered) {
          // a route the API we knew had is gone: the app changed under us; read it again once
          rediscovered = true;
          client.forget();
          submissions = Math.max(0, submissions - 1);
          continue;
        }
        if (e.kind() == GradioException.Kind.VALIDATION
            || e.kind() == GradioException.Kind.EXECUTION
            || e.kind() == GradioException.Kind.AUTH) {
          endpoint.breaker().onSuccess(); // it answered: the app is up
        } else {
          endpoint.breaker().onFailure();
          client.forget(); // a restarted app may number its functions differently
        }
        throw toFailure(e, endpoint);
      } finally {
        active.remove(job.runId());
      }
    }
  }

  /** How many times one attempt tries a run whose app went away under it (submissions included). */
  static final int MAX_SUBMISSIONS = 3;

  /** An endpoint that answered, and its API as it is now. */
  private record Picked(GradioEndpoint endpoint, GradioApi api) {}

  /** Where the next pick starts, so that runs spread over the pool. */
  private final java.util.concurrent.atomic.AtomicInteger nextPick =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * An app of the pool that answers now ({@code GET /config}, its API read again if it changed),
   * those whose breaker is closed first. When none answers, waits for one with backoff, the run
   * told that it waits, up to the longest restart grace of the pool: a single configured app, or a
   * pool whose breakers are all open, is never failed at once — an open breaker lets a call through
   * as soon as its app answers a probe.
   */
  private Picked pick(List<GradioEndpoint> pool, Consumer<BackendProgress> progress) {
    if (pool.isEmpty()) {
      throw noEndpoints();
    }
    Duration grace =
        pool.stream()
            .map(e -> e.client().options().restartGrace())
            .max(Duration::compareTo)
            .orElse(Duration.ZERO);
    long downSince = -1;
    long pause = FIRST_PAUSE_MILLIS;
    GradioException last = null;
    while (true) {
      int start = Math.floorMod(nextPick.getAndIncrement(), pool.size());
      List<GradioEndpoint> order = new ArrayList<>(pool.size());
      for (int i = 0; i < pool.size(); i++) {
        order.add(pool.get((start + i) % pool.size()));
      }
      List<GradioEndpoint> closed =
          order.stream().filter(e -> e.breaker().state() == CircuitBreaker.State.CLOSED).toList();
      List<GradioEndpoint> tryNow = new ArrayList<>(closed);
      order.stream().filter(e -> !closed.contains(e)).forEach(tryNow::add);
      for (GradioEndpoint endpoint : tryNow) {
        try {
          GradioApi api = endpoint.client().current();
          if (endpoint.breaker().state() != CircuitBreaker.State.CLOSED) {
            // a healthy probe: the run goes there, and its outcome closes or reopens the breaker
            endpoint.breaker().halfOpen();
            log.info("the Gradio app at {} answers again", endpoint.name());
          } else if (downSince >= 0) {
            log.info(
                "the Gradio app at {} answers again after {} s",
                endpoint.name(),
                (System.nanoTime() - downSince) / 1_000_000_000);
          }
          return new Picked(endpoint, api);
        } catch (GradioException e) {
          if (e.kind() == GradioException.Kind.ABORTED) {
            throw toFailure(e, endpoint);
          }
          if (!gone(e)) {
            throw discoveryFailure(e, endpoint);
          }
          endpoint.breaker().onFailure();
          last = e;
        }
      }
      long now = System.nanoTime();
      if (downSince < 0) {
        downSince = now;
        log.warn(
            "no Gradio app of {} answers ({}); waiting up to {} s for one",
            pool.stream().map(GradioEndpoint::name).toList(),
            last.getMessage(),
            grace.toSeconds());
      }
      if (now - downSince >= grace.toNanos()) {
        throw BackendMessages.failure(
            (pool.size() == 1
                    ? "The Gradio app at " + pool.get(0).name()
                    : "None of the " + pool.size() + " Gradio apps")
                + " answered for "
                + GenerationFailures.describe(grace),
            ErrorCode.BACKEND_UNREACHABLE,
            false,
            pool.stream().map(GradioEndpoint::name).toList().toString(),
            last.getMessage());
      }
      progress.accept(BackendProgress.notAnswering());
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApplicationFailure.newFailure(
            "The run was stopped while waiting for the Gradio app to answer",
            ErrorCode.CANCELLED.name());
      }
      pause = Math.min(pause * 2, LONGEST_PAUSE_MILLIS);
    }
  }

  private static final long FIRST_PAUSE_MILLIS = 500;
  private static final long LONGEST_PAUSE_MILLIS = 5_000;

  /**
   * The app went away (refused connections, its stream broke or went silent, it lost the session, a
   * proxy in front of it says it is down): waiting for it is the way back.
   */
  static boolean gone(GradioException e) {
    return e.kind() == GradioException.Kind.UNREACHABLE
        || (e.kind() == GradioException.Kind.SERVER_ERROR
            && e.httpStatus() != null
            && (e.httpStatus() == 502 || e.httpStatus() == 504));
  }

  /** Reading the app's API failed other than by its absence: a login refused, not a Gradio app. */
  private static ApplicationFailure discoveryFailure(GradioException e, GradioEndpoint endpoint) {
    if (e.kind() == GradioException.Kind.PROTOCOL || e.kind() == GradioException.Kind.NOT_FOUND) {
      return misconfigured(
          endpoint,
          "the app behind it does not look like a Gradio app this worker can use",
          "the server at "
              + endpoint.name()
              + " is not a Gradio app we can use: "
              + e.getMessage());
    }
    return toFailure(e, endpoint);
  }

  /** The model's own container (a Gradio app the host started for it), by its address. */
  private GradioEndpoint modelEndpoint(java.net.URI baseUrl) {
    return modelEndpoints.computeIfAbsent(
        baseUrl.toString(),
        url -> {
          GradioClientOptions options =
              (endpoints.isEmpty()
                      ? GradioClientOptions.defaults()
                      : endpoints.get(0).client().options())
                  // the host restarts a crashed container, maybe at another port: the retry
                  // follows it there
                  .withRestartGrace(Duration.ZERO);
          return endpoint(new GradioClient(baseUrl, options));
        });
  }

  private final Map<String, GradioEndpoint> modelEndpoints = new ConcurrentHashMap<>();

  /**
   * The run's result: files as outputs to collect, every other value (text, number, JSON, label) as
   * a value named after the template's output, else the app's label for it. An output the template
   * requires that the app did not return fails the run with OUTPUT_NOT_PRODUCED naming it.
   */
  private BackendOutcome outcome(
      BackendJob job,
      GradioEndpoint endpoint,
      GradioApi.Endpoint fn,
      GradioResult result,
      List<String> told) {
    if (result.cancelled()) {
      return new BackendOutcome(job.runId(), true, List.of(), true);
    }
    GradioOutputs.Read read =
        GradioOutputs.read(
            fn, result.data(), job.plan().payload().path("outputs"), endpoint.name(), job.runId());
    if (!read.missing().isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The Gradio app returned no "
              + String.join(" and no ", read.missing())
              + ", which this function promises",
          ErrorCode.OUTPUT_NOT_PRODUCED.name());
    }
    if (read.files().isEmpty() && read.values().isEmpty()) {
      throw ApplicationFailure.newNonRetryableFailure(
          "The Gradio app finished but returned nothing (every output of "
              + fn.apiName()
              + " was empty)",
          ErrorCode.OUTPUT_NOT_PRODUCED.name());
    }
    return new BackendOutcome(job.runId(), false, read.files(), true)
        .with(read.values(), List.copyOf(new LinkedHashSet<>(told)));
  }

  /**
   * The positional data list: each input from the template by name or position, else the endpoint's
   * default; hidden inputs (State) as null.
   */
  ArrayNode positional(
      GradioApi.Endpoint fn, Map<String, JsonNode> given, GradioEndpoint endpoint) {
    String where = endpoint.name();
    Set<String> unused = new LinkedHashSet<>(given.keySet());
    ArrayNode data = json.createArrayNode();
    int position = 0;
    for (GradioApi.Parameter parameter : fn.inputs()) {
      if (parameter == null) {
        data.add(NullNode.getInstance());
        continue;
      }
      String index = Integer.toString(position++);
      JsonNode value =
          parameter.name() != null && given.containsKey(parameter.name())
              ? given.get(parameter.name())
              : given.get(index);
      unused.remove(parameter.name());
      unused.remove(index);
      if (value == null) {
        if (!parameter.hasDefault()) {
          throw misconfigured(
              endpoint,
              "its Gradio app needs an input the function does not give",
              "the Gradio endpoint "
                  + fn.apiName()
                  + " at "
                  + where
                  + " needs '"
                  + describe(parameter, index)
                  + "', which the template does not give");
        }
        value =
            parameter.defaultValue() == null ? NullNode.getInstance() : parameter.defaultValue();
      }
      data.add(value);
    }
    if (!unused.isEmpty()) {
      List<String> names =
          fn.parameters().stream().map(p -> p.name() == null ? p.label() : p.name()).toList();
      throw misconfigured(
          endpoint,
          "its Gradio app does not take every input the function gives",
          "the Gradio endpoint "
              + fn.apiName()
              + " at "
              + where
              + " has no parameter "
              + unused
              + " (its parameters: "
              + names
              + ")");
    }
    return data;
  }

  private static String describe(GradioApi.Parameter p, String index) {
    return p.name() != null
        ? p.name()
        : p.label() != null ? p.label() + " (#" + index + ")" : "#" + index;
  }

  @Override
  public void cancel(BackendJob job) {
    Active run = active.get(job.runId());
    if (run == null) {
      log.info(
          "run {} is not being followed on this worker: its Gradio job ended, or its attempt cancels it itself",
          job.runId());
      return;
    }
    try {
      run.endpoint().client().cancel(run.sessionHash(), run.fnIndex(), run.eventId());
    } catch (GradioException e) {
      throw toFailure(e, run.endpoint());
    }
  }

  @Override
  public long download(BackendFile file, Path target) {
    if (GradioOutputs.SPOOLED.equals(file.type())) {
      return GradioOutputs.moveSpooled(file, target);
    }
    GradioEndpoint endpoint =
        endpoints.stream()
            .filter(e -> e.name().equals(file.origin()))
            .findFirst()
            .orElseGet(() -> endpoints.isEmpty() ? null : endpoints.get(0));
    if (endpoint == null) {
      throw noEndpoints();
    }
    try {
      return endpoint
          .client()
          .download(
              new GradioFile(file.subfolder(), file.type(), file.filename(), null, null), target);
    } catch (GradioException e) {
      throw toFailure(e, endpoint);
    }
  }

  private static ApplicationFailure noEndpoints() {
    return ApplicationFailure.newNonRetryableFailure(
        "No Gradio server is configured on this worker: set tempera.worker.gradio-urls (TEMPERA_GRADIO_URLS)",
        ErrorCode.BACKEND_UNREACHABLE.name());
  }

  /**
   * An operator's error (a login refused, an endpoint missing, an app that does not fit the
   * template): the person is told the function is unavailable, operators get the detail in the log
   * and in the failure's details (the Temporal UI shows them).
   */
  static ApplicationFailure misconfigured(GradioEndpoint endpoint, String why, String detail) {
    log.warn("Gradio app {} is misconfigured for this function: {}", endpoint.name(), detail);
    return ApplicationFailure.newNonRetryableFailure(
        "This function is unavailable right now: " + why + ".",
        ErrorCode.BACKEND_MISCONFIGURED.name(),
        detail);
  }

  static ApplicationFailure toFailure(GradioException e, GradioEndpoint endpoint) {
    String where = "Gradio (" + endpoint.name() + ")";
    return switch (e.kind()) {
      case VALIDATION ->
          BackendMessages.failure(
              e.httpStatus() != null && e.httpStatus() == 413
                  ? where + " refused a file as larger than it accepts"
                  : where + " refused the request's inputs",
              ErrorCode.BACKEND_VALIDATION,
              true,
              where,
              e.getMessage());
      case EXECUTION -> {
        // gr.Error is the app's own message to its user: told as it is, within bounds
        String told = BackendMessages.appMessage(e.getMessage());
        yield told.equals(e.getMessage())
            ? ApplicationFailure.newNonRetryableFailure(told, ErrorCode.EXECUTION_ERROR.name())
            : BackendMessages.failure(told, ErrorCode.EXECUTION_ERROR, true, where, e.getMessage());
      }
      case AUTH ->
          misconfigured(endpoint, "its Gradio app refused the worker's login", e.getMessage());
      case BUSY ->
          BackendMessages.failure(
              where + " is busy", ErrorCode.BACKEND_BUSY, false, where, e.getMessage());
      case UNREACHABLE, SERVER_ERROR, TIMEOUT, PROTOCOL, NOT_FOUND, ABORTED ->
          BackendFailures.of(e.fault().orElseThrow(), where, e);
    };
  }
}
