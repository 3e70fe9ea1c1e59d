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
} from "../src/index.js";

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
});
