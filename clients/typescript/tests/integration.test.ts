/**
 * Against a running Tempera server:
 * `TEMPERA_URL=http://127.0.0.1:8080 TEMPERA_API_KEY=tpk_… TEMPERA_OTHER_API_KEY=tpk_… npm run test:integration`.
 * TEMPERA_API_KEY is a key for project `ts-client`, TEMPERA_OTHER_API_KEY one for project `ts-other`
 * (`java -jar <app jar> keys create --project ts-client`; `./tempera test` makes both). Fails (does
 * not skip) when any of them is unset.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  TaskFailedError,
  TemperaApiError,
  TemperaClient,
  type Batch,
  type BatchList,
  type BatchStreamEvent,
  type GenerationEvent,
  type TaskProgress,
  type TaskSuccess,
} from "../src/index.js";
import { isPng, testCardPng } from "./png.js";

const TEMPERA_URL = process.env.TEMPERA_URL;
if (!TEMPERA_URL) {
  throw new Error("TEMPERA_URL is not set: the integration tests need a running server, e.g. TEMPERA_URL=http://127.0.0.1:8080");
}

const API_KEY = process.env.TEMPERA_API_KEY;
if (!API_KEY) {
  throw new Error(
    "TEMPERA_API_KEY is not set: the integration tests need an API key for project ts-client " +
      "(java -jar <app jar> keys create --project ts-client; ./tempera test makes one)",
  );
}
const OTHER_API_KEY = process.env.TEMPERA_OTHER_API_KEY;
if (!OTHER_API_KEY) {
  throw new Error(
    "TEMPERA_OTHER_API_KEY is not set: the integration tests need a second API key, for project ts-other " +
      "(java -jar <app jar> keys create --project ts-other; ./tempera test makes one)",
  );
}

const PROJECT = "ts-client";
const OTHER_PROJECT = "ts-other";
const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];
/** Well formed (tpk_<12 base62>_<43 base64url>) and known to no server. */
const WRONG_KEY = "tpk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

let client: TemperaClient;

beforeAll(() => {
  client = new TemperaClient({
    baseUrl: TEMPERA_URL,
    apiKey: API_KEY,
    WebSocket,
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
  });
});

afterAll(() => {
  client?.close();
});

/** A client of its own (closed by the caller). */
function clientWith(apiKey: string | undefined): TemperaClient {
  return new TemperaClient({ baseUrl: TEMPERA_URL!, apiKey, WebSocket, reconnect: { initialDelayMs: 200, maxDelayMs: 2000 } });
}

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
    // read back: with the key, and by its signed URL without one
    expect([...(await client.downloadUpload(PROJECT, upload.path))]).toEqual([...png]);
    const signed = await fetch(client.outputUrl(upload.url));
    expect(signed.status).toBe(200);
    expect(signed.headers.get("content-type")).toBe("image/png");
    expect(signed.headers.get("x-content-type-options")).toBe("nosniff");
    expect(new Uint8Array(await signed.arrayBuffer())).toEqual(png);

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
    // the generation lists the uploaded input with a URL that reads it back
    const view = await client.getGeneration(handle.taskId);
    expect(view.inputs).toEqual([{ parameter: "image", path: upload.path, url: expect.stringContaining("&signature=") }]);
    expect(new Uint8Array(await (await fetch(client.outputUrl(view.inputs![0]!.url))).arrayBuffer())).toEqual(png);

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

  it("gives WebSocket errors the status and code of the REST route, and problems their parameter", async () => {
    const unknown = await client
      .startGeneration({ functionId: "nope", projectId: PROJECT, nodeId: "n4" })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ name: "TemperaApiError", status: 404, code: "UNKNOWN_FUNCTION" });

    const bad = { functionId: "invert", parameters: { bogus: 1 }, projectId: PROJECT, nodeId: "n4" };
    const overWs = (await client.startGeneration(bad).catch((e: unknown) => e)) as TemperaApiError;
    const overRest = (await client.createGeneration(bad).catch((e: unknown) => e)) as TemperaApiError;
    for (const error of [overWs, overRest]) {
      expect(error).toBeInstanceOf(TemperaApiError);
      expect(error).toMatchObject({ status: 422, code: "INVALID_PARAMETERS" });
      expect(error.problems).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: "parameters.bogus", parameter: "bogus", code: "UNKNOWN_PARAMETER" }),
          expect.objectContaining({ field: "parameters.image", parameter: "image", code: "MISSING_PARAMETER" }),
        ]),
      );
    }
    expect(overWs.problems).toEqual(overRest.problems);
  });

  it("takes a priority: a lower one runs, a higher one than a project key may ask is refused alike on both transports", async () => {
    const handle = await client.startGeneration({
      functionId: "generate-pattern",
      projectId: PROJECT,
      nodeId: "n-priority",
      tier: "draft",
      priority: "batch",
    });
    expect(["QUEUED", "RUNNING"]).toContain(handle.status);
    await handle.result();

    const urgent = { functionId: "generate-pattern", projectId: PROJECT, nodeId: "n-priority", tier: "draft", priority: "urgent" } as const;
    const overWs = await client.startGeneration(urgent).catch((e: unknown) => e);
    const overRest = await client.createGeneration(urgent).catch((e: unknown) => e);
    for (const error of [overWs, overRest]) {
      expect(error).toMatchObject({ name: "TemperaApiError", status: 422, code: "PRIORITY_NOT_ALLOWED" });
    }
  });

  it("follows a generation started over REST by its server-sent events, and resumes them with lastEventId", async () => {
    const { id } = await client.createGeneration({
      functionId: "slow-pattern",
      parameters: { steps: 6 },
      projectId: PROJECT,
      nodeId: "n-sse",
      tier: "draft",
    });
    const events = [];
    for await (const event of client.events(id)) events.push(event);
    expect(events[0]?.event).toBe("state");
    const last = events.at(-1)!;
    expect(last.event).toBe("succeeded");
    expect(last.data).toMatchObject({ id, status: "SUCCEEDED" });
    const live = events.filter((e) => e.event === "progress" || e.event === "phase");
    expect(live.length).toBeGreaterThan(0);
    const ids = live.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    // resumed after the first live event (it has ended by now): no live event seen again, the end
    const resumed = [];
    for await (const event of client.events(id, { lastEventId: ids[0]! })) resumed.push(event);
    expect(resumed.at(-1)).toMatchObject({ event: "succeeded", id: last.id });
    for (const e of resumed.filter((r) => r.event === "progress" || r.event === "phase")) {
      expect(e.id).toBeGreaterThan(ids[0]!);
    }

    await expect(
      (async () => {
        for await (const _ of client.events("gen-does-not-exist")) void _;
      })(),
    ).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
  });

  it("knows a handle's status from the acknowledgement on", async () => {
    const handle = await client.startGeneration({ functionId: "generate-pattern", projectId: PROJECT, nodeId: "n-status", tier: "draft" });
    expect(["QUEUED", "RUNNING", "SUCCEEDED"]).toContain(handle.status);
    await handle.result();
    expect(handle.status).toBe("SUCCEEDED");
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
      apiKey: API_KEY,
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

  it("knows whom its key acts for once the WebSocket authenticated", async () => {
    await client.follow((await client.createGeneration({ functionId: "generate-pattern", projectId: PROJECT, nodeId: "n8", tier: "draft" })).id).result();
    expect(client.identity).toEqual({ projectId: PROJECT, role: "project" });
  });

  it("serves outputs at signed URLs that work without the key; the bare path needs it", async () => {
    const handle = await client.startGeneration({ functionId: "generate-pattern", parameters: {}, projectId: PROJECT, nodeId: "n9", tier: "draft" });
    const success = await handle.result();
    const url = client.outputUrl(success.outputs[0]!);
    expect(url).toMatch(/[?&]expires=\d+/);
    expect(url).toMatch(/[?&]signature=[A-Za-z0-9_-]+/);
    const signed = await fetch(url);
    expect(signed.status).toBe(200);
    expect(isPng(new Uint8Array(await signed.arrayBuffer()))).toBe(true);
    const bare = await fetch(url.split("?")[0]!);
    expect(bare.status).toBe(401);
    await bare.arrayBuffer();
  });
});

describe("API keys", () => {
  it("without a key a REST call is refused: TemperaApiError 401 UNAUTHENTICATED", async () => {
    const keyless = clientWith(undefined);
    try {
      const error = await keyless.listFunctions().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TemperaApiError);
      expect(error).toMatchObject({ status: 401, code: "UNAUTHENTICATED", problems: [] });
      await expect(keyless.getGeneration("gen-anything")).rejects.toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    } finally {
      keyless.close();
    }
  });

  it("a wrong key is refused over REST, and on the WebSocket: starts and follows reject UNAUTHENTICATED, no reconnect loop", async () => {
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    }
    const wrong = new TemperaClient({
      baseUrl: TEMPERA_URL,
      apiKey: WRONG_KEY,
      WebSocket: TrackedWebSocket,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    try {
      await expect(wrong.listFunctions()).rejects.toMatchObject({ name: "TemperaApiError", status: 401, code: "UNAUTHENTICATED" });
      const followed = wrong.follow("gen-does-not-matter");
      const [startError, followError] = await Promise.all([
        wrong
          .startGeneration({ functionId: "generate-pattern", parameters: {}, projectId: PROJECT, nodeId: "n10", tier: "draft" })
          .catch((e: unknown) => e),
        followed.result().catch((e: unknown) => e),
      ]);
      for (const error of [startError, followError]) {
        expect(error).toBeInstanceOf(TemperaApiError);
        expect((error as TemperaApiError).code).toBe("UNAUTHENTICATED");
      }
      expect(wrong.identity).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(sockets).toHaveLength(1);
      expect(wrong.connectionState).toBe("idle");
    } finally {
      wrong.close();
    }
  });

  it("another project's key cannot see, follow or cancel a generation, nor start one in this project", async () => {
    await client.getFunction("slow-pattern").catch((e: unknown) => {
      throw new Error(`the server has no slow-pattern function: start it with clients/web/tests/templates in its templates dir (${String(e)})`);
    });
    const other = clientWith(OTHER_API_KEY);
    try {
      // long enough to still run while the other key tries
      const handle = await client.startGeneration({
        functionId: "slow-pattern",
        parameters: { steps: 400, color: Math.floor(Math.random() * 0xffffff) },
        projectId: PROJECT,
        nodeId: "n11",
        tier: "draft",
      });
      const id = handle.taskId;

      await expect(other.getGeneration(id)).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
      await expect(other.cancel(id)).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
      await expect(other.follow(id).result()).rejects.toMatchObject({ name: "TemperaApiError", code: "NOT_FOUND" });
      await expect(
        other.createGeneration({ functionId: "generate-pattern", parameters: {}, projectId: PROJECT, nodeId: "n12", tier: "draft" }),
      ).rejects.toMatchObject({ status: 404, code: "UNKNOWN_PROJECT" });
      await expect(other.uploadImage(PROJECT, testCardPng(), "card.png")).rejects.toMatchObject({ status: 404 });
      const mine = await client.uploadImage(PROJECT, testCardPng(), "card.png");
      await expect(other.downloadUpload(PROJECT, mine.path)).rejects.toMatchObject({ status: 404, code: "UNKNOWN_PROJECT" });

      // still running: the other key's cancel did nothing
      const state = await client.getGeneration(id);
      expect(state.projectId).toBe(PROJECT);
      expect(["QUEUED", "RUNNING"]).toContain(state.status);
      expect(handle.done).toBe(false);
      // its own key can (and frees the backend, which runs one prompt at a time, for what follows)
      await client.cancel(id);
      await expect(handle.result()).rejects.toMatchObject({ name: "TaskFailedError", code: "CANCELLED" });

      // the other key works in its own project, and the project may be left out
      const own = await other.createGeneration({ functionId: "generate-pattern", parameters: {}, nodeId: "n13", tier: "draft" });
      const ownState = await other.getGeneration(own.id);
      expect(ownState.projectId).toBe(OTHER_PROJECT);
      await expect(client.getGeneration(own.id)).rejects.toMatchObject({ status: 404 });
      await other.follow(own.id).result();
      expect(other.identity).toEqual({ projectId: OTHER_PROJECT, role: "project" });
    } finally {
      other.close();
    }
  });
});

describe("batches and the history", () => {
  /** Reads the batch until `done` says so (or 45 s passed: the assertions then say where it stuck). */
  async function until(id: string, done: (batch: Batch) => boolean): Promise<Batch> {
    const deadline = Date.now() + 45_000;
    for (;;) {
      const batch = await client.batch(id);
      if (done(batch) || Date.now() > deadline) return batch;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it("runs a batch of count 3 of a seeded function: three variations, three seeds, each with its output; the history lists them", async () => {
    await client.getFunction("seeded-color").catch((e: unknown) => {
      throw new Error(`the server has no seeded-color function: start it with clients/web/tests/templates in its templates dir (${String(e)})`);
    });
    const nodeId = `nb-${Date.now()}`;
    const since = new Date(Date.now() - 60_000);
    const accepted = await client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId, tier: "draft", count: 3 });
    expect(accepted).toMatchObject({ status: "RUNNING", total: 3 });
    expect(accepted.id).toMatch(/^batch-/);
    const batch = await until(accepted.id, (b) => b.status !== "RUNNING");
    expect(batch.status).toBe("COMPLETED");
    expect(batch.progress).toMatchObject({ total: 3, succeeded: 3, failed: 0, cancelled: 0, waiting: 0, running: 0, queued: 0 });
    expect(batch.results.total).toBe(3);
    const items = batch.results.items;
    expect(items.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(items.every((i) => i.status === "SUCCEEDED")).toBe(true);
    const seeds = items.map((i) => i.parameters.seed);
    expect(new Set(seeds).size).toBe(3);
    for (const item of items) {
      expect(item.outputs?.length).toBeGreaterThan(0);
      // each variation is a generation of its own, with the seed the batch drew for it
      const generation = await client.getGeneration(item.generationId);
      expect(generation).toMatchObject({ status: "SUCCEEDED", functionId: "seeded-color", projectId: PROJECT });
      expect(generation.parameters?.seed).toBe(item.parameters.seed);
      expect(isPng(await client.downloadOutput(item.outputs![0]!))).toBe(true);
    }
    // a page of the variations
    const page = await client.batch(accepted.id, { offset: 1, limit: 1 });
    expect(page.results).toMatchObject({ offset: 1, limit: 1, total: 3 });
    expect(page.results.items.map((i) => i.generationId)).toEqual([items[1]!.generationId]);

    // the history: the batch's generations, filtered by function and status, paged with the cursor
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const history = await client.listGenerations({ function: "seeded-color", status: "SUCCEEDED", since, cursor, limit: 2 });
      expect(history.items.length).toBeLessThanOrEqual(2);
      for (const item of history.items) {
        expect(item).toMatchObject({ functionId: "seeded-color", status: "SUCCEEDED", projectId: PROJECT });
        listed.push(item.id);
      }
      cursor = history.nextCursor ?? undefined;
    } while (cursor);
    expect(listed).toEqual(expect.arrayContaining(items.map((i) => i.generationId)));
    const byNode = await client.listGenerations({ node: nodeId });
    expect(byNode.items.map((i) => i.id).sort()).toEqual(items.map((i) => i.generationId).sort());
    await expect(client.listGenerations({ status: "DONE" })).rejects.toMatchObject({ name: "TemperaApiError", status: 400 });
  });

  it("cancel-all ends a batch CANCELLED, its unfinished variations cancelled, none left running", async () => {
    // a long slow-pattern first holds the test backend (one prompt at a time): the batch's generations wait behind it
    const blocker = await client.startGeneration({
      functionId: "slow-pattern",
      parameters: { steps: 400, color: 0x123456 },
      projectId: PROJECT,
      nodeId: "nb-blocker",
      tier: "draft",
    });
    try {
      // painting already, so the batch's generations cannot overtake it
      for await (const event of blocker) if (event.type === "task_progress" && event.progress > 0) break;
      const accepted = await client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: "nb-cancel", tier: "draft", count: 30 });
      expect(accepted.total).toBe(30);
      // its window of 10 started (waiting behind the blocker), the other 20 not (a cancel right after the start is
      // the next test's)
      const started = await until(accepted.id, (b) => b.progress.queued + b.progress.running === b.maxInFlight);
      expect(started.progress).toMatchObject({ waiting: 30 - started.maxInFlight, succeeded: 0 });
      const cancelling = await client.cancelBatch(accepted.id);
      expect(cancelling.id).toBe(accepted.id);
      const batch = await until(
        accepted.id,
        (b) => b.status !== "RUNNING" && b.progress.succeeded + b.progress.failed + b.progress.cancelled === b.progress.total,
      );
      expect(batch.status).toBe("CANCELLED");
      expect(batch.progress).toMatchObject({ total: 30, succeeded: 0, failed: 0, cancelled: 30, waiting: 0, queued: 0, running: 0 });
      for (const item of batch.results.items) expect(item).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED" } });
    } finally {
      await client.cancel(blocker.taskId);
    }
    await expect(blocker.result()).rejects.toMatchObject({ name: "TaskFailedError", code: "CANCELLED" });
  });

  it("cancel-all right after the start, for several batches at once, ends each CANCELLED with nothing left running", async () => {
    const started = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: `nb-at-once-${i}`, tier: "draft", count: 12 }),
      ),
    );
    await Promise.all(started.map((b) => client.cancelBatch(b.id)));
    for (const accepted of started) {
      const batch = await until(accepted.id, (b) => b.status !== "RUNNING");
      expect(batch.status).toBe("CANCELLED");
      const { total, succeeded, failed, cancelled, waiting, queued, running } = batch.progress;
      expect({ total, waiting, queued, running, failed }).toEqual({ total: 12, waiting: 0, queued: 0, running: 0, failed: 0 });
      expect(succeeded + cancelled).toBe(12);
    }
  });

  it("starts a batch over the WebSocket (start_batch → batch_acknowledged), and is refused there as over REST", async () => {
    const accepted = await client.startBatch(
      { functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: "nb-ws", tier: "draft", count: 2 },
      { transport: "websocket" },
    );
    expect(accepted).toMatchObject({ status: "RUNNING", total: 2 });
    const batch = await until(accepted.id, (b) => b.status !== "RUNNING");
    expect(batch.status).toBe("COMPLETED");
    expect(batch.progress).toMatchObject({ total: 2, succeeded: 2 });
    await expect(
      client.startBatch({ functionId: "seeded-color", parameters: { seed: 5 }, projectId: PROJECT, nodeId: "nb-ws-bad", count: 2 }, { transport: "websocket" }),
    ).rejects.toMatchObject({ name: "TemperaApiError", status: 422, code: "BATCH_NOTHING_VARIES", nodeId: "nb-ws-bad" });
  });

  it("follows a batch's progress by batchEvents to its end, and lists it among the project's batches, not another project's", async () => {
    const accepted = await client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: "nb-events", tier: "draft", count: 3 });
    const seen: BatchStreamEvent[] = [];
    for await (const e of client.batchEvents(accepted.id)) seen.push(e);
    const end = seen.at(-1)!;
    expect(end.event).toBe("completed");
    expect(end.data).toMatchObject({ batchId: accepted.id, status: "COMPLETED", progress: { total: 3, succeeded: 3, waiting: 0, inFlight: 0 } });
    expect(end.id).toBe(7); // 3 started + 3 ended + its end
    for (const e of seen.slice(0, -1)) expect(e.event).toBe("progress");
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // resumed after the end: nothing more
    const again: BatchStreamEvent[] = [];
    for await (const e of client.batchEvents(accepted.id, { lastEventId: 3 })) again.push(e);
    expect(again.map((e) => [e.event, e.id])).toEqual([["completed", 7]]);

    // the same over the client's WebSocket (subscribe_batch → batch_progress … batch_ended)
    const overSocket = await client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: "nb-events-ws", tier: "draft", count: 2 });
    const onSocket: BatchStreamEvent[] = [];
    for await (const e of client.batchEvents(overSocket.id, { transport: "websocket" })) onSocket.push(e);
    expect(onSocket.at(-1)).toMatchObject({ event: "completed", id: 5, data: { status: "COMPLETED", progress: { total: 2, succeeded: 2 } } });
    for (const e of onSocket.slice(0, -1)) expect(e.event).toBe("progress");

    // listed (the server's visibility may take a moment), newest first, with its counts
    let listed: BatchList | undefined;
    for (let i = 0; i < 60; i++) {
      listed = await client.listBatches({ status: "COMPLETED", limit: 100 });
      if (listed.items.some((b) => b.id === accepted.id)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const item = listed!.items.find((b) => b.id === accepted.id);
    expect(item).toMatchObject({ status: "COMPLETED", total: 3, progress: { succeeded: 3 } });
    expect(Date.parse(item!.createdAt)).not.toBeNaN();
    const other = clientWith(OTHER_API_KEY);
    try {
      const theirs = await other.listBatches({ limit: 100 });
      expect(theirs.items.map((b) => b.id)).not.toContain(accepted.id);
      await expect(other.batchEvents(accepted.id).next()).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
    } finally {
      other.close();
    }
  });

  it("maps batch errors: nothing varies (422), unknown batch (404), another project's batch (404)", async () => {
    await expect(
      client.startBatch({ functionId: "seeded-color", parameters: { seed: 5 }, projectId: PROJECT, nodeId: "nb-bad", count: 2 }),
    ).rejects.toMatchObject({ name: "TemperaApiError", status: 422, code: "BATCH_NOTHING_VARIES" });
    await expect(client.batch("batch-nope")).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
    const accepted = await client.startBatch({ functionId: "seeded-color", parameters: {}, projectId: PROJECT, nodeId: "nb-own", tier: "draft", count: 1 });
    const other = clientWith(OTHER_API_KEY);
    try {
      await expect(other.batch(accepted.id)).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
      await expect(other.cancelBatch(accepted.id)).rejects.toMatchObject({ name: "TemperaApiError", status: 404 });
    } finally {
      other.close();
    }
    await until(accepted.id, (b) => b.status !== "RUNNING");
  });
});
