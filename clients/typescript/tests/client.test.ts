import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import WebSocket from "ws";
import {
  ConnectionError,
  TaskFailedError,
  TemperaApiError,
  TemperaClient,
  TemperaError,
  type ConnectionState,
  type GenerationEvent,
  type OutputValue,
  type OutputValueKind,
  type TaskProgress,
  type TaskSuccess,
  type TemperaClientOptions,
} from "../src/index.js";
import { FakeServer, TEST_KEY, generation, msg, type Json } from "./fake-server.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: FakeServer;
let clients: TemperaClient[] = [];

function client(options: Partial<TemperaClientOptions> = {}): TemperaClient {
  const c = new TemperaClient({
    baseUrl: server.url,
    apiKey: TEST_KEY,
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    heartbeatIntervalMs: 0,
    ...options,
  });
  clients.push(c);
  return c;
}

const start = { functionId: "invert", tier: "standard", parameters: { image: "uploads/a.png" }, projectId: "p1", nodeId: "n1" };

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await server.close();
});

describe("startGeneration over the WebSocket", () => {
  it("acknowledges, delivers progress and resolves result() on task_success", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send(msg.ack("gen-1", m));
      conn.send(msg.state("gen-1", 0, "QUEUED"));
      conn.send(msg.progress("gen-1", 1, 0.25));
      conn.send(msg.progress("gen-1", 2, 0.75));
      conn.send(msg.success("gen-1", 3));
    };
    const c = client();
    const handle = await c.startGeneration(start);
    const progress: TaskProgress[] = [];
    const states: string[] = [];
    handle.onProgress((e) => progress.push(e));
    handle.onState((e) => states.push(e.type));

    const success = await handle.result();

    expect(handle.taskId).toBe("gen-1");
    expect(success.type).toBe("task_success");
    expect(success.outputs[0]?.contentType).toBe("image/png");
    expect(success.outputs[0]?.url).toBe("/api/generations/gen-1/outputs/gen-1_out.png");
    expect(progress.map((p) => [p.eventId, p.progress])).toEqual([
      [1, 0.25],
      [2, 0.75],
    ]);
    expect(states).toEqual(["task_state", "task_success"]);
    expect(handle.done).toBe(true);
    expect(handle.status).toBe("SUCCEEDED");
    expect(handle.lastEventId).toBe(3);
    expect(c.outputUrl(success.outputs[0]!)).toBe(`${server.url}/api/generations/gen-1/outputs/gen-1_out.png`);

    // What went over the wire: one start_generation with a generated UUID requestId.
    expect(server.connections).toHaveLength(1);
    const sent = server.received.map((r) => r.message);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: "start_generation",
      functionId: "invert",
      tier: "standard",
      parameters: { image: "uploads/a.png" },
      projectId: "p1",
      nodeId: "n1",
    });
    expect(sent[0].requestId).toMatch(UUID);
    expect(handle.requestId).toBe(sent[0].requestId);
  });

  it("delivers the values a generation returned next to its outputs, typed", async () => {
    const values = [
      { name: "caption", kind: "text", value: "a <b>red</b> square" },
      { name: "words", kind: "number", value: 3 },
      { name: "animal", kind: "label", value: { label: "cat", confidences: [{ label: "cat", confidence: 0.75 }] } },
      { name: "colours", kind: "highlighted_text", value: [{ token: "red ", class_or_confidence: "colour" }] },
      { name: "description", kind: "json", value: { words: 3, nested: { empty: null } } },
    ];
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send(msg.ack("gen-v", m));
      conn.send(msg.state("gen-v", 0, "RUNNING", { values: [] }));
      conn.send(msg.success("gen-v", 1, { outputs: [], values }));
    };
    const handle = await client().startGeneration(start);
    const states: GenerationEvent[] = [];
    handle.onState((e) => states.push(e));

    const success = await handle.result();

    expectTypeOf(success).toEqualTypeOf<TaskSuccess>();
    expectTypeOf(success.values).toEqualTypeOf<OutputValue[]>();
    expectTypeOf(success.values[0]!.kind).toEqualTypeOf<OutputValueKind>();
    expect(success.outputs).toEqual([]);
    expect(success.values).toEqual(values);
    expect(success.values.map((v) => v.kind)).toEqual(["text", "number", "label", "highlighted_text", "json"]);
    const caption = success.values.find((v) => v.name === "caption");
    expect(caption?.kind === "text" && typeof caption.value === "string" ? caption.value : undefined).toBe("a <b>red</b> square");
    expect(states.map((e) => e.type)).toEqual(["task_state", "task_success"]);
  });

  it("gives an empty values list where a server sends none (before 0.2)", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send(msg.ack("gen-old", m));
      conn.send(msg.state("gen-old", 0));
      conn.send(msg.success("gen-old", 1));
    };
    const handle = await client().startGeneration(start);
    const states: GenerationEvent[] = [];
    handle.onState((e) => states.push(e));
    const success = await handle.result();
    expect(success.values).toEqual([]);
    expect(states[0]?.type === "task_state" ? states[0].state.values : undefined).toEqual([]);
    server.route("GET", "/api/generations/gen-old", () => ({ status: 200, json: generation("gen-old") }));
    expect((await client().getGeneration("gen-old")).values).toEqual([]);
  });

  it("keeps a requestId the caller gives", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_generation") conn.send(msg.ack(`gen-${m.requestId}`, m));
    };
    const handle = await client().startGeneration({ ...start, requestId: "mine-1" });
    expect(handle.taskId).toBe("gen-mine-1");
    expect(handle.requestId).toBe("mine-1");
    expect(server.received[0]?.message.requestId).toBe("mine-1");
  });

  it("runs concurrent starts on one socket and matches acks by requestId", async () => {
    const starts: Json[] = [];
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      starts.push(m);
      if (starts.length === 2) {
        // answer in reverse order
        conn.send(msg.ack("gen-b", starts[1]));
        conn.send(msg.ack("gen-a", starts[0]));
      }
    };
    const c = client();
    const [a, b] = await Promise.all([
      c.startGeneration({ ...start, nodeId: "a" }),
      c.startGeneration({ ...start, nodeId: "b" }),
    ]);
    expect(a.taskId).toBe("gen-a");
    expect(a.nodeId).toBe("a");
    expect(b.taskId).toBe("gen-b");
    expect(b.nodeId).toBe("b");
    expect(server.connections).toHaveLength(1);
  });

  it("rejects with TemperaApiError on an error reply for its requestId", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send({
        type: "error",
        code: "INVALID_PARAMETERS",
        message: "2 problems with the parameters",
        problems: [
          { field: "parameters.image", code: "REQUIRED", message: "image is required" },
          { field: "parameters.scale", code: "OUT_OF_RANGE", message: "scale must be <= 4" },
        ],
        status: 422,
        nodeId: m.nodeId,
        requestId: m.requestId,
      });
    };
    const error = await client()
      .startGeneration(start)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toBeInstanceOf(TemperaError);
    const api = error as TemperaApiError;
    expect(api.code).toBe("INVALID_PARAMETERS");
    expect(api.message).toBe("2 problems with the parameters");
    expect(api.status).toBe(422);
    expect(api.nodeId).toBe("n1");
    expect(api.requestId).toBe(server.received[0]?.message.requestId);
    expect(api.problems.map((p) => p.field)).toEqual(["parameters.image", "parameters.scale"]);
    expect(api.problems.map((p) => p.parameter)).toEqual(["image", "scale"]);
  });

  it("carries a 429's status and retryAfterSeconds from a WebSocket error", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send({
        type: "error",
        code: "QUOTA_RUNNING",
        status: 429,
        retryAfterSeconds: 12,
        message: "Project p1 already runs 2 generations, its limit",
        nodeId: m.nodeId,
        requestId: m.requestId,
      });
    };
    const error = await client().startGeneration({ ...start, priority: "batch" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ code: "QUOTA_RUNNING", status: 429, retryAfterSeconds: 12 });
    expect(server.received[0]?.message).toMatchObject({ type: "start_generation", priority: "batch" });
  });

  it("knows a handle's status from the acknowledgement on", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_generation") conn.send({ ...msg.ack("gen-ack", m), status: "queued" });
    };
    const handle = await client().startGeneration(start);
    expect(handle.status).toBe("QUEUED");
  });

  it("an error reply for another requestId does not reject this start", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send({ type: "error", code: "UNKNOWN_FUNCTION", message: "no", requestId: "someone-else" });
      conn.send(msg.ack("gen-ok", m));
    };
    const errors: unknown[] = [];
    const c = client();
    c.onError((e) => errors.push(e));
    const handle = await c.startGeneration(start);
    expect(handle.taskId).toBe("gen-ok");
    expect(errors).toHaveLength(1);
    expect((errors[0] as TemperaApiError).code).toBe("UNKNOWN_FUNCTION");
  });

  it("rejects result() with TaskFailedError on task_failed", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send(msg.ack("gen-f", m));
      conn.send(msg.progress("gen-f", 1, 0.1));
      conn.send(msg.failed("gen-f", 2));
    };
    const handle = await client().startGeneration(start);
    const error = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailedError);
    const failed = error as TaskFailedError;
    expect(failed.taskId).toBe("gen-f");
    expect(failed.code).toBe("BACKEND_ERROR");
    expect(failed.message).toBe("The backend could not run the graph");
    expect(failed.suggestion).toBe("Check the input image");
    expect(failed.action).toBe("retry");
    expect(failed.cancelled).toBe(false);
    expect(handle.status).toBe("FAILED");
  });

  it("reports a cancellation as TaskFailedError with code CANCELLED", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      conn.send(msg.ack("gen-c", m));
      conn.send(msg.failed("gen-c", 4, "CANCELLED"));
    };
    const handle = await client().startGeneration(start);
    await expect(handle.result()).rejects.toMatchObject({ name: "TaskFailedError", code: "CANCELLED", cancelled: true });
    expect(handle.status).toBe("CANCELLED");
  });

  it("times out with ConnectionError when no ack comes", async () => {
    const c = client({ requestTimeoutMs: 150 });
    const started = Date.now();
    await expect(c.startGeneration(start)).rejects.toBeInstanceOf(ConnectionError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(server.received[0]?.message.type).toBe("start_generation");
  });

  it("stops waiting when the signal aborts", async () => {
    const c = client();
    const controller = new AbortController();
    const promise = c.startGeneration(start, { signal: controller.signal });
    await server.waitForMessage((m) => m.type === "start_generation");
    controller.abort(new Error("user went away"));
    await expect(promise).rejects.toThrow("user went away");
  });

  it("rejects with ConnectionError when there is no WebSocket implementation", async () => {
    vi.stubGlobal("WebSocket", undefined);
    try {
      const c = new TemperaClient({ baseUrl: server.url });
      clients.push(c);
      await expect(c.startGeneration(start)).rejects.toBeInstanceOf(ConnectionError);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("gives up after reconnect.maxAttempts when the server is unreachable", async () => {
    const port = server.port;
    await server.close();
    const c = new TemperaClient({
      baseUrl: `http://127.0.0.1:${port}`,
      WebSocket,
      reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 },
      heartbeatIntervalMs: 0,
    });
    clients.push(c);
    const states: ConnectionState[] = [];
    c.onConnectionState((s) => states.push(s));
    const error = await c.startGeneration(start).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain("after 2 attempts");
    expect(states).toContain("connecting");
    expect(states).toContain("reconnecting");
    expect(c.connectionState).toBe("idle");
    server = await FakeServer.start(); // for afterEach
  });

  it("close() rejects pending starts and unfinished results with ConnectionError", async () => {
    const c = client();
    const pending = c.startGeneration(start);
    const followed = c.follow("gen-x");
    await server.waitForMessage((m) => m.type === "start_generation");
    c.close();
    await expect(pending).rejects.toBeInstanceOf(ConnectionError);
    await expect(followed.result()).rejects.toBeInstanceOf(ConnectionError);
    expect(c.connectionState).toBe("closed");
    await expect(c.startGeneration(start)).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe("reconnect and resume", () => {
  it("resubscribes with lastEventIds after a drop, drops duplicated progress, and still resolves", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_generation") {
        conn.send(msg.ack("gen-r", m));
        conn.send(msg.state("gen-r", 0, "QUEUED"));
        conn.send(msg.progress("gen-r", 1, 0.1));
        conn.send(msg.progress("gen-r", 2, 0.2));
        // the network fails mid-task
        setTimeout(() => conn.socket.terminate(), 30);
      } else if (m.type === "subscribe") {
        // A careless server replays old events: the client must drop them.
        conn.send(msg.state("gen-r", 2));
        conn.send(msg.progress("gen-r", 1, 0.1));
        conn.send(msg.progress("gen-r", 2, 0.2));
        conn.send(msg.progress("gen-r", 3, 0.3));
        conn.send(msg.progress("gen-r", 3, 0.3));
        conn.send(msg.progress("gen-r", 4, 0.4));
        conn.send(msg.success("gen-r", 5));
      }
    };
    const c = client();
    const states: ConnectionState[] = [];
    c.onConnectionState((s) => states.push(s));
    const handle = await c.startGeneration(start);
    const seen: number[] = [];
    handle.onProgress((e) => seen.push(e.eventId));

    const success = await handle.result();

    expect(success.taskId).toBe("gen-r");
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(server.connections).toHaveLength(2);
    const subscribe = server.connections[1]!.received[0];
    expect(subscribe).toEqual({ type: "subscribe", taskIds: ["gen-r"], lastEventIds: { "gen-r": 2 } });
    // The start was acknowledged before the drop: it is not sent again.
    expect(server.connections[1]!.received.filter((m: Json) => m.type === "start_generation")).toHaveLength(0);
    expect(states).toEqual(["connecting", "open", "reconnecting", "open"]);
  });

  it("iterating across a reconnect yields every event once and ends after the terminal one", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_generation") {
        conn.send(msg.ack("gen-i", m));
        conn.send(msg.progress("gen-i", 1, 0.1));
        setTimeout(() => conn.socket.terminate(), 30);
      } else if (m.type === "subscribe") {
        conn.send(msg.state("gen-i", 1));
        conn.send(msg.progress("gen-i", 1, 0.1));
        conn.send(msg.progress("gen-i", 2, 0.2));
        conn.send(msg.success("gen-i", 3));
      }
    };
    const handle = await client().startGeneration(start);
    const events: string[] = [];
    for await (const e of handle) {
      events.push(e.type === "task_progress" ? `progress:${e.eventId}` : e.type);
    }
    expect(events).toEqual(["progress:1", "task_state", "progress:2", "task_success"]);
  });

  it("re-sends a pending start after a reconnect with the same requestId", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "start_generation") return;
      if (conn.index === 0) {
        conn.socket.terminate(); // the ack is lost
      } else {
        conn.send(msg.ack("gen-once", m));
        conn.send(msg.success("gen-once", 1));
      }
    };
    const handle = await client().startGeneration(start);
    await handle.result();
    const starts = server.received.filter((r) => r.message.type === "start_generation");
    expect(starts.map((s) => s.connection)).toEqual([0, 1]);
    expect(starts[0]!.message.requestId).toMatch(UUID);
    expect(starts[1]!.message.requestId).toBe(starts[0]!.message.requestId);
    expect(starts[1]!.message).toEqual(starts[0]!.message);
  });

  it("resumes several followed tasks; finished ones are not resubscribed", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "subscribe") return;
      if (conn.index === 0) {
        conn.send(msg.progress("t1", 1, 0.1));
        conn.send(msg.progress("t2", 5, 0.5));
        conn.send(msg.success("t3", 9));
        setTimeout(() => conn.socket.terminate(), 30);
      } else {
        conn.send(msg.success("t1", 2));
        conn.send(msg.success("t2", 6));
      }
    };
    const c = client();
    const h1 = c.follow("t1");
    const h2 = c.follow("t2");
    const h3 = c.follow("t3");
    await Promise.all([h1.result(), h2.result(), h3.result()]);
    const subscribes = server.received.filter((r) => r.message.type === "subscribe");
    expect(subscribes[0]!.connection).toBe(0);
    expect(subscribes[0]!.message.taskIds).toEqual(["t1", "t2", "t3"]);
    const resume = subscribes.find((s) => s.connection === 1)!.message;
    expect(resume.taskIds).toEqual(["t1", "t2"]);
    expect(resume.lastEventIds).toEqual({ t1: 1, t2: 5 });
  });

  it("drops a silent connection on heartbeat timeout and resumes", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe" && conn.index === 0) {
        conn.send(msg.progress("hb", 1, 0.1));
        // then goes silent, pings included
        conn.socket.removeAllListeners("message");
      } else if (m.type === "subscribe") {
        conn.send(msg.success("hb", 2));
      }
    };
    const handle = client({ heartbeatIntervalMs: 60 }).follow("hb");
    await handle.result();
    expect(server.connections.length).toBeGreaterThanOrEqual(2);
    const resume = server.connections[1]!.received.find((m: Json) => m.type === "subscribe");
    expect(resume).toEqual({ type: "subscribe", taskIds: ["hb"], lastEventIds: { hb: 1 } });
  });
});

describe("follow", () => {
  it("subscribes lazily and resolves on a terminal message sent right away", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send(msg.success("done-1", 7));
    };
    const c = client();
    expect(c.connectionState).toBe("idle");
    const handle = c.follow("done-1");
    expect(handle.taskId).toBe("done-1");
    expect(c.follow("done-1")).toBe(handle);
    const success = await handle.result();
    expect(success.eventId).toBe(7);
    expect(server.received.map((r) => r.message)).toEqual([
      { type: "subscribe", taskIds: ["done-1"], lastEventIds: { "done-1": 0 } },
    ]);
  });

  it("rejects result() and throws in iterators when the server cannot follow the task", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send({ type: "error", code: "NOT_FOUND", message: "There is no such generation", taskId: "nope" });
    };
    const handle = client().follow("nope");
    await expect(handle.result()).rejects.toMatchObject({ name: "TemperaApiError", code: "NOT_FOUND", taskId: "nope" });
    const iterate = async () => {
      for await (const _ of handle) {
        // nothing
      }
    };
    await expect(iterate()).rejects.toBeInstanceOf(TemperaApiError);
  });

  it("close() on a handle sends unsubscribe and ends its iterators quietly", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send(msg.progress("long", 1, 0.1));
    };
    const handle = client().follow("long");
    const events: GenerationEvent[] = [];
    const loop = (async () => {
      for await (const e of handle) {
        events.push(e);
        handle.close();
      }
    })();
    await loop;
    expect(events).toHaveLength(1);
    await server.waitForMessage((m) => m.type === "unsubscribe");
    expect(server.received.at(-1)?.message).toEqual({ type: "unsubscribe", taskIds: ["long"] });
    await expect(handle.result()).rejects.toBeInstanceOf(TemperaError);
  });

  it("an iterator started after the end replays everything and ends", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "subscribe") return;
      conn.send(msg.state("late", 0, "QUEUED"));
      conn.send(msg.progress("late", 1, 0.5));
      conn.send(msg.failed("late", 2));
    };
    const handle = client().follow("late");
    await expect(handle.result()).rejects.toBeInstanceOf(TaskFailedError);
    const types: string[] = [];
    for await (const e of handle) types.push(e.type);
    expect(types).toEqual(["task_state", "task_progress", "task_failed"]);
  });

  it("handle.cancel() posts to the cancel route", async () => {
    server.route("POST", "/api/generations/gen-z/cancel", () => ({
      status: 202,
      json: generation("gen-z", { status: "CANCELLED", phase: "CANCELLED" }),
    }));
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send(msg.state("gen-z", 3));
    };
    const handle = client().follow("gen-z");
    const state = await handle.cancel();
    expect(state.status).toBe("CANCELLED");
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["POST /api/generations/gen-z/cancel"]);
  });

  it("reports an exception thrown by a callback to onError and keeps delivering", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "subscribe") return;
      conn.send(msg.progress("cb", 1, 0.5));
      conn.send(msg.success("cb", 2));
    };
    const c = client();
    const errors: unknown[] = [];
    c.onError((e) => errors.push(e));
    const handle = c.follow("cb");
    handle.onProgress(() => {
      throw new Error("listener bug");
    });
    await handle.result();
    expect(errors.map((e) => (e as Error).message)).toEqual(["listener bug"]);
  });
});

describe("REST", () => {
  it("lists and reads functions", async () => {
    const fn = {
      id: "invert",
      version: "1.0.0",
      displayName: "Invert Colors",
      category: "effects",
      icon: "contrast",
      description: "Inverts",
      backend: "comfyui",
      tiers: ["draft", "standard", "high", "ultra"],
      parameterSchema: {
        type: "object",
        properties: { image: { type: "string", format: "project-file" } },
        required: ["image"],
        additionalProperties: false,
      },
    };
    server.route("GET", "/api/functions", () => ({ status: 200, json: [fn] }));
    server.route("GET", "/api/functions/invert", () => ({ status: 200, json: fn }));
    const c = client();
    const list = await c.listFunctions();
    expect(list.map((f) => f.id)).toEqual(["invert"]);
    expect(list[0]?.parameterSchema.properties.image?.format).toBe("project-file");
    expect((await c.getFunction("invert")).displayName).toBe("Invert Colors");
  });

  it("reads a generation's server-sent events to the terminal one, with the key and Last-Event-ID", async () => {
    server.route("GET", "/api/generations/gen-sse/events", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event:state\nid:3\ndata:${JSON.stringify(generation("gen-sse", { status: "RUNNING", eventId: 3 }))}\n\n`);
      res.write(":keep-alive\n\n");
      const progress = { id: "gen-sse", phase: "GENERATING", progress: 0.5, message: "half", timestamp: 1 };
      // split across writes, with CRLF line ends
      const block = `event:progress\r\nid:4\r\ndata:${JSON.stringify(progress)}\r\n\r\n`;
      res.write(block.slice(0, 10));
      res.write(block.slice(10));
      res.write(`event:succeeded\nid:5\ndata:${JSON.stringify(generation("gen-sse", { status: "SUCCEEDED", eventId: 4 }))}\n\n`);
      // never ended by the server: the client stops reading after the terminal event
    });
    const seen = [];
    for await (const e of client().events("gen-sse", { lastEventId: 2 })) seen.push(e);
    expect(seen.map((e) => [e.event, e.id])).toEqual([
      ["state", 3],
      ["progress", 4],
      ["succeeded", 5],
    ]);
    expect(seen[1]!.data).toMatchObject({ phase: "GENERATING", progress: 0.5 });
    expect(seen[2]!.data).toMatchObject({ id: "gen-sse", status: "SUCCEEDED" });
    const request = server.requests.find((r) => r.url.endsWith("/events"))!;
    expect(request.headers["last-event-id"]).toBe("2");
    expect(request.headers.accept).toBe("text/event-stream");
    expect(request.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
  });

  it("rejects events() with TemperaApiError, and with ConnectionError when the stream ends early", async () => {
    server.route("GET", "/api/generations/gen-none/events", () => ({ status: 404, json: { code: "NOT_FOUND", message: "no" } }));
    server.route("GET", "/api/generations/gen-cut/events", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`event:state\nid:1\ndata:${JSON.stringify(generation("gen-cut", { eventId: 1 }))}\n\n`);
    });
    const c = client();
    const drain = async (id: string) => {
      for await (const _ of c.events(id)) void _;
    };
    await expect(drain("gen-none")).rejects.toMatchObject({ name: "TemperaApiError", status: 404, code: "NOT_FOUND" });
    await expect(drain("gen-cut")).rejects.toBeInstanceOf(ConnectionError);
  });

  it("reads Retry-After of a REST 429 into retryAfterSeconds", async () => {
    server.route("POST", "/api/generations", (_req, res) => {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "30" });
      res.end(JSON.stringify({ code: "QUOTA_GPU_TIME", message: "Project p1 used its GPU time this hour" }));
    });
    const error = await client().createGeneration({ ...start, priority: "low" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ status: 429, code: "QUOTA_GPU_TIME", retryAfterSeconds: 30 });
    const posted = server.requests.find((r) => r.method === "POST")!;
    expect(JSON.parse(posted.body.toString())).toMatchObject({ priority: "low" });
  });

  it("maps an error body and status to TemperaApiError", async () => {
    server.route("GET", "/api/functions/nope", () => ({
      status: 404,
      json: { code: "NOT_FOUND", message: "There is no function 'nope'" },
    }));
    server.route("POST", "/api/generations", () => ({
      status: 422,
      json: {
        code: "INVALID_PARAMETERS",
        message: "1 problem",
        problems: [{ field: "parameters.image", code: "REQUIRED", message: "image is required" }],
      },
    }));
    const c = client();
    const notFound = await c.getFunction("nope").catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(TemperaApiError);
    expect(notFound).toMatchObject({ status: 404, code: "NOT_FOUND", message: "There is no function 'nope'", problems: [] });

    const invalid = await c.createGeneration(start).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(TemperaApiError);
    expect(invalid).toMatchObject({
      status: 422,
      code: "INVALID_PARAMETERS",
      problems: [{ field: "parameters.image", code: "REQUIRED", message: "image is required" }],
    });
    const posted = server.requests.find((r) => r.method === "POST")!;
    expect(posted.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(posted.body.toString())).toMatchObject({ functionId: "invert", projectId: "p1", nodeId: "n1" });
  });

  it("maps a non-JSON error to code HTTP_<status>", async () => {
    server.route("GET", "/api/generations/x", () => ({ status: 502, text: "Bad gateway" }));
    const error = await client().getGeneration("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ status: 502, code: "HTTP_502" });
    expect((error as Error).message).toContain("Bad gateway");
  });

  it("maps a network failure to ConnectionError", async () => {
    const port = server.port;
    await server.close();
    const c = new TemperaClient({ baseUrl: `http://127.0.0.1:${port}` });
    await expect(c.listFunctions()).rejects.toBeInstanceOf(ConnectionError);
    server = await FakeServer.start();
  });

  it("gets a generation and cancels one, URL-encoding the id", async () => {
    server.route("GET", "/api/generations/gen-a%2Fb", () => ({ status: 200, json: generation("gen-a/b") }));
    server.route("POST", "/api/generations/gen-1/cancel", () => ({
      status: 202,
      json: generation("gen-1", { status: "SUCCEEDED" }),
    }));
    const c = client();
    expect((await c.getGeneration("gen-a/b")).id).toBe("gen-a/b");
    expect((await c.cancel("gen-1")).status).toBe("SUCCEEDED");
  });

  it("uploads bytes as multipart field 'file' with a sniffed content type", async () => {
    server.route("POST", "/api/projects/p1/uploads", (req) => ({
      status: 201,
      json: { path: "uploads/abc.png", url: "/api/projects/p1/uploads/abc.png?expires=1&signature=s", contentType: "image/png", sizeBytes: req.body.length },
    }));
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const result = await client().uploadImage("p1", png);
    expect(result.path).toBe("uploads/abc.png");
    const req = server.requests[0]!;
    expect(req.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const body = req.body.toString("latin1");
    expect(body).toContain('name="file"; filename="upload.png"');
    expect(body).toContain("Content-Type: image/png");
    expect(req.body.includes(Buffer.from(png))).toBe(true);
  });

  it("uploads a Blob with the given filename", async () => {
    server.route("POST", "/api/projects/p2/uploads", () => ({
      status: 201,
      json: { path: "uploads/x.jpg", contentType: "image/jpeg", sizeBytes: 3 },
    }));
    await client().uploadImage("p2", new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: "image/jpeg" }), "photo.jpg");
    expect(server.requests[0]!.body.toString("latin1")).toContain('filename="photo.jpg"');
  });

  it("reads an upload back by its path, with the key, the name URL-encoded", async () => {
    server.route("GET", "/api/projects/p%201/uploads/abc.png", () => ({
      status: 200,
      body: Buffer.from([4, 5, 6]),
      contentType: "image/png",
    }));
    server.route("GET", "/api/projects/p1/uploads/gone.png", () => ({
      status: 404,
      json: { code: "NOT_FOUND", message: "Project p1 has no upload named 'gone.png'" },
    }));
    const c = client();
    expect([...(await c.downloadUpload("p 1", "uploads/abc.png"))]).toEqual([4, 5, 6]);
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    await expect(c.downloadUpload("p1", "uploads/gone.png")).rejects.toMatchObject({ name: "TemperaApiError", status: 404, code: "NOT_FOUND" });
  });

  it("downloads an output relative to baseUrl", async () => {
    server.route("GET", "/api/generations/g/outputs/o.png", () => ({
      status: 200,
      body: Buffer.from([1, 2, 3]),
      contentType: "image/png",
    }));
    const bytes = await client().downloadOutput({ name: "o.png", url: "/api/generations/g/outputs/o.png", contentType: "image/png", sizeBytes: 3 });
    expect([...bytes]).toEqual([1, 2, 3]);
  });

  it("uses an injected fetch and derives the WebSocket URL from baseUrl", async () => {
    const calls: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response("[]", { status: 200, headers: { "content-type": "application/json" } });
    };
    const c = new TemperaClient({ baseUrl: "https://tempera.example/prefix/", fetch: fakeFetch });
    expect(await c.listFunctions()).toEqual([]);
    expect(calls).toEqual(["https://tempera.example/prefix/api/functions"]);
    expect(c.wsUrl).toBe("wss://tempera.example/prefix/ws");
    expect(new TemperaClient({ baseUrl: "http://h:8080" }).wsUrl).toBe("ws://h:8080/ws");
  });
});

describe("API key", () => {
  const refused = (e: unknown) => e instanceof TemperaApiError && e.code === "UNAUTHENTICATED";

  it("sends the key as a Bearer header on every REST call: reads, posts, uploads, downloads", async () => {
    server.route("GET", "/api/functions", () => ({ status: 200, json: [] }));
    server.route("GET", "/api/generations/g1", () => ({ status: 200, json: generation("g1") }));
    server.route("POST", "/api/generations/g1/cancel", () => ({ status: 202, json: generation("g1", { status: "CANCELLED" }) }));
    server.route("POST", "/api/generations", () => ({ status: 202, json: { id: "g2", status: "QUEUED" } }));
    server.route("POST", "/api/projects/p1/uploads", () => ({ status: 201, json: { path: "uploads/a.png", contentType: "image/png", sizeBytes: 4 } }));
    server.route("GET", "/api/generations/g1/outputs/o.png", () => ({ status: 200, body: Buffer.from([7, 8]), contentType: "image/png" }));
    const c = client();
    expect(await c.listFunctions()).toEqual([]);
    expect((await c.getGeneration("g1")).id).toBe("g1");
    expect((await c.cancel("g1")).status).toBe("CANCELLED");
    expect((await c.createGeneration({ functionId: "invert", nodeId: "n1" })).id).toBe("g2");
    expect((await c.uploadImage("p1", new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).path).toBe("uploads/a.png");
    // a signed URL as the server gives it: the query is kept, the header sent anyway
    const signed = "/api/generations/g1/outputs/o.png?expires=1893456000&signature=c2lnbmVk";
    expect([...(await c.downloadOutput(signed))]).toEqual([7, 8]);
    expect(c.outputUrl(signed)).toBe(`${server.url}${signed}`);

    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /api/functions",
      "GET /api/generations/g1",
      "POST /api/generations/g1/cancel",
      "POST /api/generations",
      "POST /api/projects/p1/uploads",
      "GET /api/generations/g1/outputs/o.png",
    ]);
    for (const r of server.requests) expect(r.headers.authorization, `${r.method} ${r.url}`).toBe(`Bearer ${TEST_KEY}`);
    // a project key may leave projectId out: the body then has none
    expect(JSON.parse(server.requests[3]!.body.toString())).not.toHaveProperty("projectId");
  });

  it("does not send the key to another origin", async () => {
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), headers: { ...(init?.headers as Record<string, string>) } });
      return new Response(new Uint8Array([1]), { status: 200 });
    };
    const c = new TemperaClient({ baseUrl: "https://tempera.example/prefix", apiKey: TEST_KEY, fetch: fakeFetch });
    await c.downloadOutput("https://cdn.example/o.png");
    await c.downloadOutput("/api/generations/g/outputs/o.png?expires=1&signature=x");
    expect(calls.map((call) => [call.url, call.headers.authorization])).toEqual([
      ["https://cdn.example/o.png", undefined],
      ["https://tempera.example/prefix/api/generations/g/outputs/o.png?expires=1&signature=x", `Bearer ${TEST_KEY}`],
    ]);
  });

  it("without a key a REST call rejects with TemperaApiError 401 UNAUTHENTICATED", async () => {
    server.route("GET", "/api/functions", () => ({ status: 200, json: [] }));
    const error = await client({ apiKey: undefined })
      .listFunctions()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ status: 401, code: "UNAUTHENTICATED", message: "A valid API key is required", problems: [] });
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("a wrong key over REST is the server's 401 too", async () => {
    server.route("GET", "/api/functions", () => ({ status: 200, json: [] }));
    await expect(client({ apiKey: "tpk_wrong" }).listFunctions()).rejects.toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect(server.requests[0]!.headers.authorization).toBe("Bearer tpk_wrong");
  });

  it("authenticates first on the WebSocket and exposes whom the key acts for", async () => {
    server.identity = { projectId: "p1", role: "project" };
    server.onMessage = (m, conn) => {
      if (m.type === "start_generation") conn.send(msg.ack("gen-auth", m));
    };
    const c = client();
    const identities: unknown[] = [];
    c.onIdentity((identity) => identities.push(identity));
    expect(c.identity).toBeUndefined();
    const handle = await c.startGeneration({ functionId: "invert", parameters: {}, nodeId: "n1" });
    expect(handle.taskId).toBe("gen-auth");
    const log = server.connections[0]!.log;
    expect(log[0]).toEqual({ type: "authenticate", key: TEST_KEY });
    expect(log.filter((m: Json) => m.type === "authenticate")).toHaveLength(1);
    expect(log[1]).toMatchObject({ type: "start_generation", functionId: "invert", nodeId: "n1" });
    // no projectId given: none sent (the key's project is used)
    expect(log[1]).not.toHaveProperty("projectId");
    expect(c.identity).toEqual({ projectId: "p1", role: "project" });
    expect(identities).toEqual([{ projectId: "p1", role: "project" }]);
  });

  it("an operator key's identity has no project", async () => {
    server.identity = { projectId: null, role: "operator" };
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send(msg.success("op-1", 1));
    };
    const c = client();
    await c.follow("op-1").result();
    expect(c.identity).toEqual({ projectId: null, role: "operator" });
  });

  it("authenticates again on every reconnect, before the resubscribe and the re-sent start", async () => {
    server.onMessage = (m, conn) => {
      if (conn.index === 0 && m.type === "start_generation") {
        conn.socket.terminate(); // the ack is lost, and the followed task's progress with it
      } else if (conn.index === 1 && m.type === "start_generation") {
        conn.send(msg.ack("gen-again", m));
        conn.send(msg.success("gen-again", 1));
      } else if (m.type === "subscribe" && conn.index === 1) {
        conn.send(msg.success("followed", 3));
      }
    };
    const c = client();
    const identities: unknown[] = [];
    c.onIdentity((identity) => identities.push(identity));
    const followed = c.follow("followed");
    await server.waitForMessage((m, connection) => m.type === "subscribe" && connection === 0);
    const handle = await c.startGeneration(start);
    await Promise.all([handle.result(), followed.result()]);

    expect(server.connections).toHaveLength(2);
    for (const connection of server.connections) {
      expect(connection.log[0], `connection ${connection.index}`).toEqual({ type: "authenticate", key: TEST_KEY });
      expect(connection.log.filter((m: Json) => m.type === "authenticate")).toHaveLength(1);
    }
    expect(server.connections[1]!.log.map((m: Json) => m.type)).toEqual(["authenticate", "subscribe", "start_generation"]);
    expect(server.authentications).toEqual([
      { connection: 0, key: TEST_KEY, accepted: true },
      { connection: 1, key: TEST_KEY, accepted: true },
    ]);
    await server.waitFor(() => identities.length === 2);
    expect(identities).toHaveLength(2);
  });

  it("a wrong key rejects pending starts and followed tasks with UNAUTHENTICATED, and does not reconnect", async () => {
    const c = client({ apiKey: "tpk_not_the_key" });
    const states: ConnectionState[] = [];
    c.onConnectionState((s) => states.push(s));
    const errors: unknown[] = [];
    c.onError((e) => errors.push(e));
    const followed = c.follow("gen-secret");
    const pending = c.startGeneration(start);
    const [startError, followError] = await Promise.all([
      pending.catch((e: unknown) => e),
      followed.result().catch((e: unknown) => e),
    ]);
    for (const error of [startError, followError]) {
      expect(error).toBeInstanceOf(TemperaApiError);
      expect(error).toMatchObject({ code: "UNAUTHENTICATED", message: "The API key is not valid", status: 401 });
    }
    const iterate = async () => {
      for await (const _ of followed) {
        // nothing
      }
    };
    await expect(iterate()).rejects.toSatisfy(refused);
    expect(server.authentications).toEqual([{ connection: 0, key: "tpk_not_the_key", accepted: false }]);
    // nothing but authenticate went out before the server accepted the key: no subscribe or start
    // could reach a server that refused and closed (whose TCP reset would lose the refusal)
    expect(server.connections[0]!.log.map((m: Json) => m.type)).toEqual(["authenticate"]);
    expect(c.identity).toBeUndefined();
    // no reconnect loop: one connection, now and a while later
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(server.connections).toHaveLength(1);
    expect(c.connectionState).toBe("idle");
    expect(states).not.toContain("reconnecting");
    expect(errors).toEqual([]); // every refusal answered a call; nothing extra reported
    // the next call tries once more (and is refused the same way)
    await expect(c.startGeneration(start)).rejects.toSatisfy(refused);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.connections).toHaveLength(2);
  });

  it("without a key the server refuses the first message and closes: the same rejection, no reconnect", async () => {
    const c = client({ apiKey: undefined });
    const error = await c.startGeneration(start).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ code: "UNAUTHENTICATED", message: "Send authenticate with an API key first" });
    expect(server.connections[0]!.log.map((m: Json) => m.type)).toEqual(["start_generation"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.connections).toHaveLength(1);
    expect(c.connectionState).toBe("idle");
  });

  it("a close with 1008 alone (no error message) is a refusal too", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.socket.close(1008, "key revoked");
    };
    const c = client();
    const error = await c
      .follow("gen-revoked")
      .result()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect((error as TemperaApiError).code).toBe("UNAUTHENTICATED");
    expect((error as Error).message).toContain("key revoked");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.connections).toHaveLength(1);
  });

  it("an UNAUTHENTICATED error when nothing waits is reported to onError, once", async () => {
    server.onMessage = (m, conn) => {
      if (m.type !== "subscribe") return;
      conn.send(msg.success("gen-done", 1));
      setTimeout(() => {
        conn.send({ type: "error", code: "UNAUTHENTICATED", message: "The API key was revoked" });
        conn.socket.close(1008, "revoked");
      }, 30);
    };
    const c = client();
    const errors: unknown[] = [];
    c.onError((e) => errors.push(e));
    await c.follow("gen-done").result();
    await server.waitFor(() => server.connections[0]!.closeCode !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "UNAUTHENTICATED", message: "The API key was revoked" });
    expect(server.connections).toHaveLength(1);
  });

  it("a client without a key against a server that needs none sends no authenticate and no header", async () => {
    await server.close();
    server = await FakeServer.start({ apiKey: null });
    server.route("GET", "/api/functions", () => ({ status: 200, json: [] }));
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe") conn.send(msg.success("open-1", 1));
    };
    const c = client({ apiKey: undefined });
    await c.listFunctions();
    await c.follow("open-1").result();
    expect(server.requests[0]!.headers.authorization).toBeUndefined();
    expect(server.connections[0]!.log.map((m: Json) => m.type)).toEqual(["subscribe"]);
    expect(c.identity).toBeUndefined();
  });
});
