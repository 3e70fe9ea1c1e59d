package io.tempera.api;

import io.swagger.v3.core.converter.ModelConverters;
import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.media.ArraySchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import io.tempera.generation.ErrorCode;
import io.tempera.generation.GenerationStatus;
import io.tempera.generation.Phase;
import io.tempera.generation.PriorityLevel;
import io.tempera.template.QualityTier;
import io.tempera.webhooks.WebhookDeliveryStatus;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI document of the REST API at {@code /v3/api-docs} (public: it describes the routes,
 * every one of which still wants a key). The records of {@link ApiMessages} carry their values as
 * strings; this puts the enums the server really uses on them (statuses, phases, tiers, priorities,
 * error codes and actions, from the Java enums), so clients generated from the document (the
 * TypeScript client's types) cannot drift from the server.
 */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfiguration {

  static final List<String> STATUSES = names(GenerationStatus.values(), Enum::name);
  static final List<String> PHASES = names(Phase.values(), Enum::name);
  static final List<String> TIERS = names(QualityTier.values(), QualityTier::id);
  static final List<String> PRIORITIES = names(PriorityLevel.values(), PriorityLevel::id);
  static final List<String> GENERATION_ERRORS = names(ErrorCode.values(), Enum::name);
  static final List<String> ACTIONS =
      Arrays.stream(ErrorCode.values()).map(ErrorCode::action).distinct().sorted().toList();
  static final List<String> API_ERRORS = names(ApiErrorCode.values(), Enum::name);
  static final List<String> WAITING_FOR =
      List.of(
          io.tempera.progress.ProgressEvent.WAITING_FOR_SLOT,
          io.tempera.progress.ProgressEvent.WAITING_FOR_BACKEND);
  static final List<String> VALUE_KINDS =
      List.of("text", "number", "boolean", "json", "label", "highlighted_text");

  static final String PROBLEM_FIELD =
      "The JSON path of the request body's field the problem is about, as the request has it:"
          + " `functionId`, `parameters.strength`, `webhook.url`, `sweep.seed`. Never a name of"
          + " the server's code.";
  static final String PROBLEM_PARAMETER =
      "For a problem with one of the function's parameters (a field under `parameters` or"
          + " `sweep`): the parameter's bare name, e.g. `strength`. Absent otherwise.";

  @Bean
  OpenApiCustomizer temperaOpenApi() {
    return api -> {
      api.info(
          new Info()
              .title("Tempera API")
              .version("0.1")
              .description(
                  "REST routes of Tempera. Every /api/** route wants an API key as `Authorization:"
                      + " Bearer tpk_…`. The canvas WebSocket (/ws) is described by the JSON Schema"
                      + " at /schemas/canvas-websocket.schema.json."));
      api.schemaRequirement(
          "apiKey", new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer"));
      api.addSecurityItem(new SecurityRequirement().addList("apiKey"));
      if (api.getComponents() == null) {
        api.setComponents(new Components());
      }
      Components components = api.getComponents();
      // the body of every refusal, whatever the route
      for (Map.Entry<String, Schema> e :
          ModelConverters.getInstance().readAll(ApiMessages.Error.class).entrySet()) {
        components.addSchemas(e.getKey(), e.getValue());
      }
      // the data of a batch's server-sent events (the route itself answers ServerSentEvent)
      for (Map.Entry<String, Schema> e :
          ModelConverters.getInstance().readAll(BatchMessages.Event.class).entrySet()) {
        components.addSchemas(e.getKey(), e.getValue());
      }
      Map<String, Schema> schemas =
          components.getSchemas() == null ? new LinkedHashMap<>() : components.getSchemas();
      enumOn(schemas, "Error", "code", API_ERRORS);
      enumOn(schemas, "Generation", "status", STATUSES);
      enumOn(schemas, "Generation", "phase", PHASES);
      enumOn(schemas, "Generation", "tierUsed", TIERS);
      enumOn(schemas, "Accepted", "status", STATUSES);
      enumOn(schemas, "Failure", "code", GENERATION_ERRORS);
      enumOn(schemas, "Failure", "action", ACTIONS);
      enumOn(schemas, "Fallback", "fromTier", TIERS);
      enumOn(schemas, "Fallback", "toTier", TIERS);
      enumOn(schemas, "Value", "kind", VALUE_KINDS);
      enumOn(schemas, "Waiting", "for", WAITING_FOR);
      enumOn(schemas, "StartGeneration", "priority", PRIORITIES);
      enumOn(schemas, "StartGeneration", "tier", TIERS);
      enumOn(schemas, "BatchSummary", "status", BatchService.LIST_STATUSES);
      enumOn(schemas, "BatchEvent", "status", BatchService.LIST_STATUSES);
      enumOn(schemas, "WebhookView", "status", names(WebhookDeliveryStatus.values(), Enum::name));
      property(schemas, "RequestProblem", "field").description(PROBLEM_FIELD);
      property(schemas, "RequestProblem", "parameter").description(PROBLEM_PARAMETER);
      Schema<?> tiers = property(schemas, "Function", "tiers");
      if (tiers.getItems() == null) {
        throw new IllegalStateException("Function.tiers is not a list in the OpenAPI document");
      }
      restrict(tiers.getItems(), TIERS);
    };
  }

  /**
   * {@code schema.property} takes only {@code values} (the enum the server uses). Fails when the
   * schema or property is gone: a renamed record must not leave the document without its enum.
   */
  private static void enumOn(
      Map<String, Schema> schemas, String schema, String property, List<String> values) {
    restrict(property(schemas, schema, property), values);
  }

  private static Schema<?> property(Map<String, Schema> schemas, String schema, String property) {
    Schema<?> owner = schemas.get(schema);
    Map<String, Schema> properties = owner == null ? null : owner.getProperties();
    Schema<?> target = properties == null ? null : properties.get(property);
    if (target == null) {
      throw new IllegalStateException(
          "The OpenAPI document has no " + schema + "." + property + " to put its enum on");
    }
    return target;
  }

  @SuppressWarnings("unchecked")
  private static void restrict(Schema<?> target, List<String> values) {
    if (target instanceof ArraySchema) {
      throw new IllegalStateException("an enum on a list: restrict its items");
    }
    ((Schema<Object>) target).setEnum(new java.util.ArrayList<>(values));
  }

  private static <E> List<String> names(E[] values, Function<E, String> name) {
    return Stream.of(values).map(name).toList();
  }
}
