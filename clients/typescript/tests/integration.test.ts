/**
 * Against a running Tempera server: `TEMPERA_URL=http://127.0.0.1:8080 npm run test:integration`.
 * Fails (does not skip) when TEMPERA_URL is unset.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  TaskFailedError,
  TemperaApiError,
  TemperaClient,
  type GenerationEvent,
  type TaskProgress,
  type TaskSuccess,
} from "../src/index.js";
import { isPng, testCardPng } from "./png.js";

const TEMPERA_URL = process.env.TEMPERA_URL;
if (!TEMPERA_URL) {
  throw new Error("TEMPERA_URL is not set: the integration tests need a running server, e.g. TEMPERA_URL=http://127.0.0.1:8080");
}

const PROJECT = "ts-client";
const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];

let client: TemperaClient;

beforeAll(() => {
  client = new TemperaClient({ baseUrl: TEMPERA_URL, WebSocket, reconnect: { initialDelayMs: 200, maxDelayMs: 2000 } });
});

afterAll(() => {
  client?.close();
});

/** Collects every event of a handle while it runs. */
async function collect(handle: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  for await (const event of handle) events.push(event);
  return events;
}

describe("Tempera server", () => {
  it("lists the functions, invert and generate-pattern among them", async () => {
    const functions = await client.listFunctions();
    const ids = functions.map((f) => f.id);
    expect(ids).toContain("invert");
    expect(ids).toContain("generate-pattern");
    const invert = await client.getFunction("invert");
    expect(invert.tiers).toEqual(expect.arrayContaining(["draft", "standard", "high", "ultra"]));
    expect(invert.parameterSchema.properties.image?.format).toBe("project-file");
    expect(invert.parameterSchema.required).toContain("image");
  });

  it("uploads a PNG and inverts it, following progress over the WebSocket", async () => {
    const png = testCardPng();
    const upload = await client.uploadImage(PROJECT, png, "card.png");
    expect(upload.path).toMatch(/^uploads\/.+\.png$/);
    expect(upload.contentType).toBe("image/png");
    expect(upload.sizeBytes).toBe(png.length);

    const handle = await client.startGeneration({
      functionId: "invert",
      parameters: { image: upload.path },
      projectId: PROJECT,
      nodeId: "n1",
      tier: "standard",
    });
    expect(handle.taskId).toBeTruthy();
    const progress: TaskProgress[] = [];
    handle.onProgress((event) => progress.push(event));
    const eventsPromise = collect(handle);

    const success = await handle.result();
    const events = await eventsPromise;

    expect(success.type).toBe("task_success");
    expect(success.taskId).toBe(handle.taskId);
    expect(success.outputs.length).toBeGreaterThan(0);
    expect(success.outputs[0]!.contentType).toBe("image/png");
    const bytes = await client.downloadOutput(success.outputs[0]!);
    expect(isPng(bytes)).toBe(true);
    expect(bytes.length).toBe(success.outputs[0]!.sizeBytes);

    // The story: a snapshot first, progress in increasing eventId order, the terminal event last.
    expect(events[0]?.type).toBe("task_state");
    expect(events.at(-1)?.type).toBe("task_success");
    const ids = progress.map((p) => p.eventId);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of progress) {
      expect(p.progress).toBeGreaterThanOrEqual(0);
      expect(p.progress).toBeLessThanOrEqual(1);
    }
    console.info(`invert ${handle.taskId}: ${progress.length} progress events, ${events.length} events in all`);

    const state = await client.getGeneration(handle.taskId);
    expect(state.status).toBe("SUCCEEDED");
    expect(state.projectId).toBe(PROJECT);
    expect(state.nodeId).toBe("n1");
    expect(state.functionId).toBe("invert");
    expect(state.outputs[0]?.url).toBe(success.outputs[0]!.url);
  });

  it("generates a pattern at the draft tier", async () => {
    const handle = await client.startGeneration({
      functionId: "generate-pattern",
      parameters: { color: 0x3366ff, border: 8 },
      projectId: PROJECT,
      nodeId: "n2",
      tier: "draft",
    });
    const success: TaskSuccess = await handle.result();
    expect(success.tierUsed).toBe("draft");
    expect(success.outputs[0]?.contentType).toBe("image/png");
    const bytes = await client.downloadOutput(success.outputs[0]!);
    expect(isPng(bytes)).toBe(true);
    // draft renders 256 px; the feathered border pads 8 px on each side
    expect(success.outputs[0]?.width).toBe(256 + 2 * 8);
  });

  it("starting the same requestId twice gives one generation", async () => {
    const requestId = `ts-client-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const req = { functionId: "generate-pattern", parameters: {}, projectId: PROJECT, nodeId: "n3", tier: "draft", requestId };
    const first = await client.startGeneration(req);
    const second = await client.startGeneration(req);
    expect(second.taskId).toBe(first.taskId);
    await first.result();
  });

  it("rejects an unknown function with TemperaApiError UNKNOWN_FUNCTION", async () => {
    const error = await client
      .startGeneration({ functionId: "nope", parameters: {}, projectId: PROJECT, nodeId: "n4" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect((error as TemperaApiError).code).toBe("UNKNOWN_FUNCTION");

    const rest = await client
      .createGeneration({ functionId: "nope", parameters: {}, projectId: PROJECT, nodeId: "n4" })
      .catch((e: unknown) => e);
    expect(rest).toBeInstanceOf(TemperaApiError);
    expect(rest).toMatchObject({ status: 404, code: "UNKNOWN_FUNCTION" });
  });

  it("maps REST errors: unknown generation and unknown function", async () => {
    await expect(client.getGeneration("gen-does-not-exist-ts-client")).rejects.toMatchObject({
      name: "TemperaApiError",
      status: 404,
      code: "NOT_FOUND",
    });
    await expect(client.getFunction("nope")).rejects.toMatchObject({ name: "TemperaApiError", status: 404, code: "NOT_FOUND" });
  });

  it("cancels a generation; cancelling a finished one answers its terminal state", async () => {
    const handle = await client.startGeneration({
      functionId: "generate-pattern",
      parameters: {},
      projectId: PROJECT,
      nodeId: "n5",
      tier: "ultra",
    });
    const cancelled = await handle.cancel();
    expect(cancelled.id).toBe(handle.taskId);
    // It may have finished before the cancel arrived: either way it ends, once.
    const outcome = await handle.result().then(
      (success) => ({ ok: true as const, success }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (!outcome.ok) {
      expect(outcome.error).toBeInstanceOf(TaskFailedError);
      expect((outcome.error as TaskFailedError).code).toBe("CANCELLED");
    }
    const again = await client.cancel(handle.taskId);
    expect(TERMINAL).toContain(again.status);
    expect(again.status).toBe(outcome.ok ? "SUCCEEDED" : "CANCELLED");
  });

  it("resumes after its socket is killed mid-run: no event twice, none after the last seen lost", async () => {
    // needs the slow-pattern test template (clients/web/tests/templates; ./tempera test serves it)
    await client.getFunction("slow-pattern").catch((e: unknown) => {
      throw new Error(`the server has no slow-pattern function: start it with clients/web/tests/templates in its templates dir (${String(e)})`);
    });
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const resuming = new TemperaClient({
      baseUrl: TEMPERA_URL,
      WebSocket: TrackedWebSocket,
      reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
    });
    try {
      const handle = await resuming.startGeneration({
        functionId: "slow-pattern",
        parameters: { steps: 40, color: Math.floor(Math.random() * 0xffffff) },
        projectId: PROJECT,
        nodeId: "n7",
        tier: "draft",
      });
      const eventsPromise = collect(handle);
      await new Promise<void>((resolve) => {
        const off = handle.onProgress((p) => {
          if ((p.step ?? 0) >= 5) {
            off();
            resolve();
          }
        });
      });
      const seenBeforeKill = handle.lastEventId;
      sockets[0]!.terminate(); // no close handshake: the connection just dies

      const success = await handle.result();
      const events = await eventsPromise;
      expect(success.taskId).toBe(handle.taskId);
      expect(sockets.length).toBeGreaterThanOrEqual(2);
      const progress = events.filter((e): e is TaskProgress => e.type === "task_progress");
      const ids = progress.map((p) => p.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(ids.filter((id) => id > seenBeforeKill).length).toBeGreaterThan(0);
      // after the resubscribe the server sent a fresh snapshot, then only newer events
      const snapshots = events.filter((e) => e.type === "task_state");
      expect(snapshots.length).toBeGreaterThanOrEqual(2);
      // steps in order (a step's preview event repeats its step count), and the run went on
      const steps = progress.filter((p) => p.step !== undefined).map((p) => p.step!);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
      expect(new Set(steps).size).toBeGreaterThan(5);
    } finally {
      resuming.close();
    }
  });

  it("follows a finished generation and gets its terminal event", async () => {
    const started = await client.createGeneration({
      functionId: "generate-pattern",
      parameters: {},
      projectId: PROJECT,
      nodeId: "n6",
      tier: "draft",
    });
    const first = await client.follow(started.id).result();
    expect(first.taskId).toBe(started.id);
    const again = await client.follow(started.id).result();
    expect(again.outputs.map((o) => o.url)).toEqual(first.outputs.map((o) => o.url));
  });
});
