import { describe, expectTypeOf, it } from "vitest";
import WebSocket from "ws";
import type {
  ApiErrorCode,
  AuthenticateMessage,
  Authenticated,
  ClientMessage,
  Generation,
  GenerationErrorCode,
  GenerationEvent,
  GenerationHandle,
  Identity,
  OutputValue,
  OutputValueKind,
  TaskFailed,
  ServerMessage,
  StartGenerationRequest,
  TaskSuccess,
  TemperaApiError,
  TemperaClient,
  TemperaClientOptions,
  WebSocketConstructor,
  GenerationStatus,
  Phase,
  Tier,
  Priority,
  ErrorAction,
  TaskAcknowledged,
  ServerErrorMessage,
  Waiting,
} from "../src/index.js";
import type { components } from "../src/generated/openapi.js";
import type * as Ws from "../src/generated/canvas-websocket.js";

type Schemas = components["schemas"];

describe("public types", () => {
  it("accepts the ws package and the platform WebSocket as the WebSocket option", () => {
    expectTypeOf(WebSocket).toMatchTypeOf<WebSocketConstructor>();
    expectTypeOf<typeof globalThis.WebSocket>().toMatchTypeOf<WebSocketConstructor>();
  });

  it("makes a handle an async iterable of events whose result() is a TaskSuccess", () => {
    expectTypeOf<GenerationHandle>().toMatchTypeOf<AsyncIterable<GenerationEvent>>();
    expectTypeOf<ReturnType<GenerationHandle["result"]>>().toEqualTypeOf<Promise<TaskSuccess>>();
  });

  it("types a generation's values next to its outputs, their kind a closed union", () => {
    expectTypeOf<OutputValueKind>().toEqualTypeOf<"text" | "number" | "boolean" | "json" | "label" | "highlighted_text">();
    expectTypeOf<OutputValue["kind"]>().toEqualTypeOf<OutputValueKind>();
    expectTypeOf<TaskSuccess["values"]>().toEqualTypeOf<OutputValue[]>();
    expectTypeOf<Generation["values"]>().toEqualTypeOf<OutputValue[]>();
    expectTypeOf<TaskFailed["values"]>().toEqualTypeOf<OutputValue[]>();
    // @ts-expect-error: not a kind of value
    const wrong: OutputValueKind = "image";
    void wrong;
  });

  it("names the generation error codes, the new ones included, and still takes any string", () => {
    expectTypeOf<"BACKEND_MISCONFIGURED">().toMatchTypeOf<GenerationErrorCode>();
    expectTypeOf<"OUTPUT_NOT_PRODUCED">().toMatchTypeOf<GenerationErrorCode>();
    expectTypeOf<TaskFailed["code"]>().toEqualTypeOf<GenerationErrorCode>();
    const fromANewerServer: GenerationErrorCode = "SOMETHING_NEW";
    void fromANewerServer;
  });

  it("types the API key, the authenticate handshake and UNAUTHENTICATED", () => {
    expectTypeOf<TemperaClientOptions["apiKey"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<AuthenticateMessage>().toMatchTypeOf<ClientMessage>();
    expectTypeOf<AuthenticateMessage>().toEqualTypeOf<{ type: "authenticate"; key: string }>();
    expectTypeOf<Authenticated>().toMatchTypeOf<ServerMessage>();
    expectTypeOf<Authenticated["projectId"]>().toEqualTypeOf<string | null>();
    expectTypeOf<TemperaClient["identity"]>().toEqualTypeOf<Identity | undefined>();
    expectTypeOf<"UNAUTHENTICATED">().toMatchTypeOf<ApiErrorCode>();
    expectTypeOf<TemperaApiError["code"]>().toEqualTypeOf<ApiErrorCode>();
    // a project key may leave the project out
    expectTypeOf<StartGenerationRequest["projectId"]>().toEqualTypeOf<string | undefined>();
  });

  it("takes statuses, phases, tiers, priorities and actions from the server's schemas, closed", () => {
    expectTypeOf<GenerationStatus>().toEqualTypeOf<"QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED">();
    expectTypeOf<Tier>().toEqualTypeOf<"draft" | "standard" | "high" | "ultra">();
    expectTypeOf<Priority>().toEqualTypeOf<"urgent" | "interactive" | "normal" | "low" | "batch">();
    expectTypeOf<ErrorAction>().toEqualTypeOf<"FIX_INPUT" | "NONE" | "REDUCE_QUALITY" | "RETRY" | "RETRY_LATER">();
    expectTypeOf<"GENERATING">().toMatchTypeOf<Phase>();
    // @ts-expect-error: not a status
    const status: GenerationStatus = "DONE";
    // @ts-expect-error: not a phase
    const phase: Phase = "THINKING";
    void status;
    void phase;
  });

  it("agrees with the OpenAPI document and the WebSocket schema, which agree with each other", () => {
    // the REST document and the WebSocket schema name the same values
    expectTypeOf<NonNullable<Schemas["Generation"]["status"]>>().toEqualTypeOf<Ws.GenerationStatus>();
    expectTypeOf<NonNullable<Schemas["Generation"]["phase"]>>().toEqualTypeOf<Ws.Phase>();
    expectTypeOf<Tier>().toEqualTypeOf<Ws.Tier>();
    expectTypeOf<Priority>().toEqualTypeOf<Ws.Priority>();
    expectTypeOf<ErrorAction>().toEqualTypeOf<Ws.ErrorAction>();
    expectTypeOf<NonNullable<Schemas["Error"]["code"]>>().toEqualTypeOf<Ws.ApiErrorCode>();
    expectTypeOf<NonNullable<Schemas["Failure"]["code"]>>().toEqualTypeOf<Ws.GenerationErrorCode>();
    // the client's messages are the schema's
    expectTypeOf<TaskAcknowledged["status"]>().toEqualTypeOf<Ws.AckStatus>();
    expectTypeOf<Ws.TaskProgressMessage["phase"]>().toEqualTypeOf<Phase>();
    expectTypeOf<Ws.TaskFailedMessage["action"]>().toEqualTypeOf<ErrorAction | null>();
    expectTypeOf<Ws.ErrorMessage>().toMatchTypeOf<ServerErrorMessage>();
    expectTypeOf<StartGenerationRequest["priority"]>().toEqualTypeOf<Priority | undefined>();
    // a Generation of the REST API fits the client's
    expectTypeOf<Required<Schemas["Generation"]>["status"]>().toEqualTypeOf<Generation["status"]>();
    expectTypeOf<Required<Schemas["Generation"]>["phase"]>().toEqualTypeOf<Generation["phase"]>();
    expectTypeOf<Required<Schemas["Generation"]>["tierUsed"]>().toEqualTypeOf<Generation["tierUsed"]>();
    expectTypeOf<TemperaApiError["retryAfterSeconds"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Waiting["for"]>().toEqualTypeOf<"slot" | "backend">();
    expectTypeOf<NonNullable<Ws.TaskProgressMessage["waiting"]>["for"]>().toEqualTypeOf<Waiting["for"]>();
  });
});
