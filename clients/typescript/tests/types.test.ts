import { describe, expectTypeOf, it } from "vitest";
import WebSocket from "ws";
import type { GenerationEvent, GenerationHandle, TaskSuccess, WebSocketConstructor } from "../src/index.js";

describe("public types", () => {
  it("accepts the ws package and the platform WebSocket as the WebSocket option", () => {
    expectTypeOf(WebSocket).toMatchTypeOf<WebSocketConstructor>();
    expectTypeOf<typeof globalThis.WebSocket>().toMatchTypeOf<WebSocketConstructor>();
  });

  it("makes a handle an async iterable of events whose result() is a TaskSuccess", () => {
    expectTypeOf<GenerationHandle>().toMatchTypeOf<AsyncIterable<GenerationEvent>>();
    expectTypeOf<ReturnType<GenerationHandle["result"]>>().toEqualTypeOf<Promise<TaskSuccess>>();
  });
});
