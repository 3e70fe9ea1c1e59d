package io.tempera.backend.gradio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tempera.backend.Backend;
import io.tempera.backend.BackendFailures;
import io.tempera.backend.BackendProgress;
import io.tempera.backend.CircuitBreaker;
import io.tempera.generation.BackendFile;
import io.tempera.generation.BackendJob;
import io.tempera.generation.BackendOutcome;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.FileInput;
import io.temporal.failure.ApplicationFailure;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
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
 * one missing, or a name the endpoint does not have, is a BACKEND_VALIDATION failure naming it.
 *
 * <p>Exactly once: Gradio keeps no record of a prediction once the session that joined it is gone
 * (when its event stream disconnects the server drops the session's jobs), so a run cannot be
 * re-attached after its worker died. Each attempt therefore joins a fresh session and starts the
 * prediction afresh; an attempt that loses its stream cancels its job before failing, so at most
 * one prediction of a run is ever followed. A cancel ({@link #cancel}) reaches {@code
 * {prefix}/cancel} for the prediction this worker is following; the following attempt also cancels
 * it when its activity is cancelled (its thread is interrupted).
 *
 * <p>Output files are {@link BackendFile}s with {@code filename} the file's name, {@code subfolder}
 * its path on the server, {@code type} its url, and {@code origin} the endpoint.
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
    GradioEndpoint endpoint = healthyEndpoint();
    GradioClient client = endpoint.client();
    String sessionHash = "tempera" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    try {
      ObjectNode payload = job.plan().payload();
      String apiName = payload.path("api_name").asText("");
      GradioApi api = client.api();
      GradioApi.Endpoint fn = api.endpoints().get(apiName);
      if (fn == null) {
        api = client.discover(); // the app may have been restarted with new endpoints
        fn = api.endpoints().get(apiName);
      }
      if (fn == null) {
        throw ApplicationFailure.newNonRetryableFailure(
            "The Gradio app at "
                + endpoint.name()
                + " has no endpoint '"
                + apiName
                + "' (it has: "
                + api.endpoints().keySet()
                + ")",
            ErrorCode.BACKEND_VALIDATION.name());
      }
      Map<String, JsonNode> given = new HashMap<>();
      payload.path("inputs").fields().forEachRemaining(e -> given.put(e.getKey(), e.getValue()));
      for (FileInput input : job.plan().fileInputs()) {
        Path file = Backend.inputFile(projectDir, input);
        given.put(
            input.input(), client.fileData(client.upload(file), file.getFileName().toString()));
      }
      ArrayNode data = positional(fn, given, endpoint.name());
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
      List<BackendFile> files =
          result.files().stream()
              .map(f ->
                  new BackendFile(apiName, "files", f.name(), f.path(), f.url(), endpoint.name()))
              .toList();
      return new BackendOutcome(job.runId(), result.cancelled(), files, true);
    } catch (GradioException e) {
      if (e.kind() == GradioException.Kind.ABORTED) {
        return new BackendOutcome(
            job.runId(), true, List.of(), true); // the client has cancelled the job
      }
      if (e.kind() != GradioException.Kind.VALIDATION
          && e.kind() != GradioException.Kind.EXECUTION) {
        endpoint.breaker().onFailure();
        client
            .forget(); // a restarted app may number its functions differently: the retry discovers
        // it again
      }
      throw toFailure(e, endpoint);
    } finally {
      active.remove(job.runId());
    }
  }

  /**
   * The positional data list: each input from the template by name or position, else the endpoint's
   * default; hidden inputs (State) as null.
   */
  ArrayNode positional(GradioApi.Endpoint fn, Map<String, JsonNode> given, String where) {
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
          throw ApplicationFailure.newNonRetryableFailure(
              "The Gradio endpoint "
                  + fn.apiName()
                  + " at "
                  + where
                  + " needs '"
                  + describe(parameter, index)
                  + "', which the template does not give",
              ErrorCode.BACKEND_VALIDATION.name());
        }
        value =
            parameter.defaultValue() == null ? NullNode.getInstance() : parameter.defaultValue();
      }
      data.add(value);
    }
    if (!unused.isEmpty()) {
      List<String> names =
          fn.parameters().stream().map(p -> p.name() == null ? p.label() : p.name()).toList();
      throw ApplicationFailure.newNonRetryableFailure(
          "The Gradio endpoint "
              + fn.apiName()
              + " at "
              + where
              + " has no parameter "
              + unused
              + " (its parameters: "
              + names
              + ")",
          ErrorCode.BACKEND_VALIDATION.name());
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

  private GradioEndpoint healthyEndpoint() {
    if (endpoints.isEmpty()) {
      throw noEndpoints();
    }
    return CircuitBreaker.firstAllowed(endpoints, GradioEndpoint::breaker, "Gradio");
  }

  private static ApplicationFailure noEndpoints() {
    return ApplicationFailure.newNonRetryableFailure(
        "No Gradio server is configured on this worker: set tempera.worker.gradio-urls (TEMPERA_GRADIO_URLS)",
        ErrorCode.BACKEND_UNREACHABLE.name());
  }

  static ApplicationFailure toFailure(GradioException e, GradioEndpoint endpoint) {
    String where = "Gradio (" + endpoint.name() + ")";
    return switch (e.kind()) {
      case VALIDATION ->
          ApplicationFailure.newNonRetryableFailure(
              where + " refused the request: " + e.getMessage(),
              ErrorCode.BACKEND_VALIDATION.name());
      case EXECUTION ->
          ApplicationFailure.newNonRetryableFailure(
              "The Gradio app failed: " + e.getMessage(), ErrorCode.EXECUTION_ERROR.name());
      case AUTH ->
          ApplicationFailure.newNonRetryableFailure(
              where + ": " + e.getMessage(), ErrorCode.BACKEND_UNREACHABLE.name());
      case BUSY ->
          ApplicationFailure.newFailure(
              where + " is busy: " + e.getMessage(), ErrorCode.BACKEND_BUSY.name());
      case UNREACHABLE, SERVER_ERROR, TIMEOUT, PROTOCOL, NOT_FOUND, ABORTED ->
          BackendFailures.of(e.fault().orElseThrow(), where, e);
    };
  }
}
