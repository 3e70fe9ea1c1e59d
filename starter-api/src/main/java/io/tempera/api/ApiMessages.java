package io.tempera.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tempera.template.RequestProblem;
import java.util.List;
import java.util.Map;

/** The API's HTTP shapes: kept apart from workflow messages; mapping lives in the controllers. */
public final class ApiMessages {

  private ApiMessages() {}

  public record StartGeneration(
      String functionId,
      String tier,
      Map<String, Object> parameters,
      String projectId,
      String nodeId,
      String requestId,
      String functionVersion,
      String priority,
      WebhookRequest webhook) {

    /** A request naming no priority: its tier's default. */
    public StartGeneration(
        String functionId,
        String tier,
        Map<String, Object> parameters,
        String projectId,
        String nodeId,
        String requestId,
        String functionVersion) {
      this(functionId, tier, parameters, projectId, nodeId, requestId, functionVersion, null, null);
    }

    /** The same request in another project (a project key's own when the body names none). */
    public StartGeneration withProjectId(String project) {
      return new StartGeneration(
          functionId,
          tier,
          parameters,
          project,
          nodeId,
          requestId,
          functionVersion,
          priority,
          webhook);
    }
  }

  /** Where a generation's end is POSTed ({@code webhook: {url}}). */
  public record WebhookRequest(String url) {}

  public record Accepted(String id, String status) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Output(
      String name, String url, String contentType, long sizeBytes, Integer width, Integer height) {}

  /**
   * A value the generation returned that is not a file: {@code kind} is {@code text}, {@code
   * number}, {@code boolean}, {@code json}, {@code label} or {@code highlighted_text}; {@code
   * value} is its JSON (a string, a number, a boolean, an object or a list).
   */
  public record Value(String name, String kind, Object value) {

    private static final ObjectMapper PLAIN = new ObjectMapper();

    /**
     * The workflow's value with its JSON as plain maps, lists, strings, numbers and booleans: the
     * HTTP codecs (Jackson 3) do not write Jackson 2's JsonNode as JSON, the WebSocket's mapper
     * does; plain values read the same in both.
     */
    static Value of(io.tempera.generation.OutputValue value) {
      JsonNode json = value.value();
      return new Value(
          value.name(),
          value.kind(),
          json == null || json.isNull() ? null : PLAIN.convertValue(json, Object.class));
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Failure(
      String code, String message, String suggestion, String action, boolean retryable) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Generation(
      String id,
      String status,
      String phase,
      double progress,
      String message,
      Integer step,
      Integer totalSteps,
      Integer queuePosition,
      Integer etaSeconds,
      Integer startsInSeconds,
      Waiting waiting,
      String previewUrl,
      String functionId,
      String functionVersion,
      String projectId,
      String nodeId,
      String tierRequested,
      String tierUsed,
      List<String> warnings,
      List<Output> outputs,
      List<Value> values,
      Failure error,
      List<io.tempera.generation.Fallback> fallbacks,
      String variant,
      Long modelColdStartMillis,
      Map<String, Object> parameters,
      List<UploadedInput> inputs,
      long eventId,
      io.tempera.api.webhooks.WebhookView webhook) {

    /** The same state with its webhook delivery (null: it names none). */
    public Generation withWebhook(io.tempera.api.webhooks.WebhookView delivery) {
      return new Generation(
          id,
          status,
          phase,
          progress,
          message,
          step,
          totalSteps,
          queuePosition,
          etaSeconds,
          startsInSeconds,
          waiting,
          previewUrl,
          functionId,
          functionVersion,
          projectId,
          nodeId,
          tierRequested,
          tierUsed,
          warnings,
          outputs,
          values,
          error,
          fallbacks,
          variant,
          modelColdStartMillis,
          parameters,
          inputs,
          eventId,
          delivery);
    }
  }

  /**
   * What a queued generation waits for, so a client can show the two waits apart: {@code "slot"}, a
   * GPU slot of its pool (its place in the slot allocator's line, in the order the allocator serves
   * it, and the allocator's estimate from the lease times it measured), or {@code "backend"}, its
   * run in the backend's own queue (ComfyUI's or Gradio's place and estimate).
   *
   * @param position 1 = next
   * @param startsInSeconds the estimated seconds until the wait ends (null: not known yet)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Waiting(
      @com.fasterxml.jackson.annotation.JsonProperty("for") String waitingFor,
      Integer position,
      Integer startsInSeconds) {}

  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  @SuppressWarnings(
      "AvoidCommonTypeNames") // always written qualified, as ApiMessages.Error: the JSON error body
  public record Error(String code, String message, List<RequestProblem> problems) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Parameter(
      String type,
      Object defaultValue,
      Double minimum,
      Double maximum,
      List<Object> enumValues,
      String description) {}

  public record Function(
      String id,
      String version,
      String displayName,
      String category,
      String icon,
      String description,
      String backend,
      List<String> tiers,
      Map<String, Object> parameterSchema,
      Map<String, io.tempera.template.TierConfig> tierDetails) {}

  /**
   * An uploaded file: {@code path} is what an image parameter takes, {@code url} reads it back (a
   * signed URL that works without a key until it expires; with a key of its project the path part
   * alone works too).
   */
  public record Upload(String path, String url, String contentType, long sizeBytes) {}

  /**
   * An image parameter of a generation whose value is one of its project's uploads, with a signed
   * URL to read the upload back (a fresh one each time the generation is read).
   */
  public record UploadedInput(String parameter, String path, String url) {}

  /**
   * A function whose template loaded but cannot run on the configured servers: why, node by node.
   */
  public record UnavailableFunction(
      String id,
      String version,
      String displayName,
      List<io.tempera.template.NodeProblem> problems) {}
}
