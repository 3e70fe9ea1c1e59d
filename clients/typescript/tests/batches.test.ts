import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import WebSocket from "ws";
import {
  ConnectionError,
  TemperaApiError,
  TemperaClient,
  type Batch,
  type BatchStreamEvent,
  type BatchSummary,
  type BatchItemStatus,
  type BatchStatus,
  type GenerationListItem,
  type GenerationStatus,
} from "../src/index.js";
import { FakeServer, TEST_KEY, type Json } from "./fake-server.js";

let server: FakeServer;
let clients: TemperaClient[] = [];

function client(): TemperaClient {
  const c = new TemperaClient({
    baseUrl: server.url,
    apiKey: TEST_KEY,
    WebSocket,
    heartbeatIntervalMs: 0,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await FakeServer.start();
});

afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await server.close();
});

const batchState = (overrides: Json = {}): Json => ({
  id: "batch-p1-r1",
  status: "RUNNING",
  functionId: "text-to-image",
  functionVersion: "1.0.0",
  projectId: "p1",
  nodeId: "n1",
  tier: "draft",
  priority: "batch",
  count: 3,
  maxInFlight: 10,
  progress: { total: 3, waiting: 1, queued: 0, running: 1, succeeded: 1, failed: 0, cancelled: 0 },
  results: {
    offset: 0,
    limit: 100,
    total: 3,
    items: [
      {
        index: 0,
        generationId: "gen-p1-batch-r1-0",
        status: "SUCCEEDED",
        parameters: { seed: 11 },
        outputs: [{ name: "image_0.png", url: "/api/outputs/p1/a.png?expires=1&signature=s", contentType: "image/png" }],
      },
      { index: 1, generationId: "gen-p1-batch-r1-1", status: "RUNNING", parameters: { seed: 12 } },
      { index: 2, generationId: "gen-p1-batch-r1-2", status: "WAITING", parameters: { seed: 13 } },
    ],
  },
  ...overrides,
});

describe("batches", () => {
  it("startBatch posts count and sweep with a generated requestId and resolves with {id, status, total}", async () => {
    server.route("POST", "/api/batches", () => ({ status: 202, json: { id: "batch-p1-r1", status: "RUNNING", total: 6 } }));
    const accepted = await client().startBatch({
      functionId: "text-to-image",
      parameters: { prompt: "a lighthouse" },
      nodeId: "n1",
      tier: "draft",
      count: 2,
      sweep: { cfg: [5, 7, 9] },
    });
    expect(accepted).toEqual({ id: "batch-p1-r1", status: "RUNNING", total: 6 });
    expectTypeOf(accepted.status).toEqualTypeOf<BatchStatus>();
    const posted = server.requests.find((r) => r.method === "POST" && r.url === "/api/batches")!;
    expect(posted.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(posted.headers["content-type"]).toMatch(/application\/json/);
    const body = JSON.parse(posted.body.toString());
    expect(body).toEqual({
      functionId: "text-to-image",
      parameters: { prompt: "a lighthouse" },
      nodeId: "n1",
      tier: "draft",
      count: 2,
      sweep: { cfg: [5, 7, 9] },
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });

  it("startBatch keeps the caller's requestId, so a retry finds the same batch", async () => {
    server.route("POST", "/api/batches", () => ({ status: 202, json: { id: "batch-p1-mine", status: "RUNNING", total: 4 } }));
    const c = client();
    const req = { functionId: "text-to-image", nodeId: "n1", count: 4, requestId: "mine" };
    await c.startBatch(req);
    await c.startBatch(req);
    const bodies = server.requests.filter((r) => r.url === "/api/batches").map((r) => JSON.parse(r.body.toString()));
    expect(bodies.map((b) => b.requestId)).toEqual(["mine", "mine"]);
  });

  it("startBatch rejects with TemperaApiError: problems, and a 429's retryAfterSeconds", async () => {
    let answer = 0;
    server.route("POST", "/api/batches", (_req, res) => {
      if (answer++ === 0) {
        res.writeHead(422, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            code: "BATCH_NOTHING_VARIES",
            message: "count needs a random parameter left out",
            problems: [{ field: "parameters.seed", code: "BATCH_NOTHING_VARIES", message: "seed is set" }],
          }),
        );
        return;
      }
      res.writeHead(429, { "content-type": "application/json", "retry-after": "42" });
      res.end(JSON.stringify({ code: "QUOTA_QUEUED", message: "Project p1 has too many generations queued" }));
    });
    const c = client();
    const req = { functionId: "text-to-image", nodeId: "n1", parameters: { seed: 1 }, count: 3 };
    const nothingVaries = await c.startBatch(req).catch((e: unknown) => e);
    expect(nothingVaries).toBeInstanceOf(TemperaApiError);
    expect(nothingVaries).toMatchObject({
      status: 422,
      code: "BATCH_NOTHING_VARIES",
      problems: [{ field: "parameters.seed", parameter: "seed" }],
    });
    const quota = await c.startBatch(req).catch((e: unknown) => e);
    expect(quota).toMatchObject({ name: "TemperaApiError", status: 429, code: "QUOTA_QUEUED", retryAfterSeconds: 42 });
  });

  it("batch(id, {offset, limit}) reads a page of variations, typed", async () => {
    server.route("GET", "/api/batches/batch-p1-r1", () => ({ status: 200, json: batchState() }));
    const c = client();
    const batch = await c.batch("batch-p1-r1", { offset: 0, limit: 3 });
    const read = server.requests.find((r) => r.method === "GET")!;
    expect(read.url + read.search).toBe("/api/batches/batch-p1-r1?offset=0&limit=3");
    expect(batch.progress).toEqual({ total: 3, waiting: 1, queued: 0, running: 1, succeeded: 1, failed: 0, cancelled: 0 });
    expect(batch.results.items.map((i) => i.status)).toEqual(["SUCCEEDED", "RUNNING", "WAITING"]);
    expect(c.outputUrl(batch.results.items[0]!.outputs![0]!)).toBe(`${server.url}/api/outputs/p1/a.png?expires=1&signature=s`);
    expectTypeOf(batch).toEqualTypeOf<Batch>();
    expectTypeOf(batch.results.items[0]!.status).toEqualTypeOf<BatchItemStatus>();
    expectTypeOf(batch.progress.succeeded).toEqualTypeOf<number>();

    await c.batch("batch-p1-r1");
    expect(server.requests.at(-1)!.search).toBe("");
  });

  it("batch() of an unknown (or another project's) batch rejects with 404 NOT_FOUND", async () => {
    const error = await client().batch("batch-nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  it("cancelBatch posts to the cancel route and resolves with the batch's state", async () => {
    server.route("POST", "/api/batches/batch-p1-r1/cancel", () => ({
      status: 202,
      json: batchState({ status: "CANCELLED" }),
    }));
    const cancelled = await client().cancelBatch("batch-p1-r1");
    expect(cancelled.status).toBe("CANCELLED");
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["POST /api/batches/batch-p1-r1/cancel"]);
  });
});

describe("startBatch over the WebSocket", () => {
  const req = { functionId: "text-to-image", parameters: { prompt: "p" }, nodeId: "n1", tier: "draft", count: 3 };

  it("sends start_batch and resolves with batch_acknowledged's id, status (upper case) and total", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_batch") {
        conn.send({ type: "batch_acknowledged", batchId: "batch-p1-x", status: "running", total: 3, nodeId: m.nodeId, requestId: m.requestId });
      }
    };
    const accepted = await client().startBatch(req, { transport: "websocket" });
    expect(accepted).toEqual({ id: "batch-p1-x", status: "RUNNING", total: 3 });
    const sent = server.received.find((r) => r.message.type === "start_batch")!.message;
    expect(sent).toEqual({ type: "start_batch", ...req, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(server.requests).toEqual([]); // nothing over REST
  });

  it("rejects with the error for its requestId, with status and retryAfterSeconds", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_batch") {
        conn.send({ type: "error", code: "QUOTA_RUNNING", status: 429, retryAfterSeconds: 7, message: "too many running", requestId: m.requestId, nodeId: m.nodeId });
      }
    };
    const error = await client().startBatch(req, { transport: "websocket" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ code: "QUOTA_RUNNING", status: 429, retryAfterSeconds: 7, nodeId: "n1" });
  });

  it("re-sends a pending start_batch after a reconnect with the same requestId; a generation with that requestId waits apart", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "start_batch") {
        if (conn.index === 0) conn.socket.terminate(); // the ack is lost
        else conn.send({ type: "batch_acknowledged", batchId: "batch-p1-same", status: "running", total: 3, nodeId: m.nodeId, requestId: m.requestId });
      }
      if (m.type === "start_generation" && conn.index > 0) {
        conn.send({ type: "task_acknowledged", taskId: "gen-p1-same", nodeId: m.nodeId, requestId: m.requestId, status: "queued" });
      }
    };
    const c = client();
    const batch = c.startBatch({ ...req, requestId: "same" }, { transport: "websocket" });
    const generation = c.startGeneration({ functionId: "invert", nodeId: "n2", requestId: "same" });
    expect((await batch).id).toBe("batch-p1-same");
    expect((await generation).taskId).toBe("gen-p1-same");
    const starts = server.received.filter((r) => r.message.type === "start_batch");
    expect(starts.map((r) => r.connection)).toEqual([0, 1]);
    expect(starts[1]!.message).toEqual(starts[0]!.message);
  });
});

describe("listGenerations", () => {
  it("sends the filters as the query and returns the page with its nextCursor", async () => {
    server.route("GET", "/api/generations", () => ({
      status: 200,
      json: {
        items: [
          {
            id: "gen-p1-a",
            status: "SUCCEEDED",
            functionId: "invert",
            projectId: "p1",
            nodeId: "n1",
            tier: "standard",
            startedAt: "2026-12-07T10:00:00Z",
            endedAt: "2026-12-07T10:00:05Z",
            outputs: [{ name: "out.png", url: "/api/outputs/p1/out.png", contentType: "image/png", sizeBytes: 10 }],
          },
        ],
        nextCursor: "MS5hYmMucC4x",
      },
    }));
    const page = await client().listGenerations({
      status: "SUCCEEDED",
      function: "invert",
      node: "n1",
      since: new Date("2026-12-07T00:00:00Z"),
      cursor: "c0",
      limit: 5,
    });
    const url = new URL(server.requests[0]!.url + server.requests[0]!.search, server.url);
    expect(url.pathname).toBe("/api/generations");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      status: "SUCCEEDED",
      function: "invert",
      node: "n1",
      since: "2026-12-07T00:00:00.000Z",
      cursor: "c0",
      limit: "5",
    });
    expect(page.nextCursor).toBe("MS5hYmMucC4x");
    expect(page.items[0]).toMatchObject({ id: "gen-p1-a", status: "SUCCEEDED", outputs: [{ name: "out.png" }] });
    expectTypeOf(page.items).toEqualTypeOf<GenerationListItem[]>();
    expectTypeOf(page.items[0]!.status).toEqualTypeOf<GenerationStatus>();
  });

  it("sends no query without filters, an operator's project, and a day as since", async () => {
    server.route("GET", "/api/generations", () => ({ status: 200, json: { items: [] } }));
    const c = client();
    expect(await c.listGenerations()).toEqual({ items: [] });
    await c.listGenerations({ project: "p2", since: "2026-12-01" });
    expect(server.requests.map((r) => r.url + r.search)).toEqual([
      "/api/generations",
      "/api/generations?project=p2&since=2026-12-01",
    ]);
  });

  it("rejects a bad filter with TemperaApiError", async () => {
    server.route("GET", "/api/generations", () => ({
      status: 400,
      json: { code: "INVALID_STATUS", message: "status must be one of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED" },
    }));
    const error = await client().listGenerations({ status: "DONE" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ status: 400, code: "INVALID_STATUS" });
  });

  it("listBatches sends status, cursor and limit and resolves with the page, typed", async () => {
    const summary = {
      id: "batch-p1-r2",
      status: "RUNNING",
      functionId: "text-to-image",
      nodeId: "n1",
      total: 4,
      progress: { total: 4, waiting: 1, inFlight: 3, succeeded: 0, failed: 0, cancelled: 0 },
      createdAt: "2026-12-07T20:00:00Z",
    };
    server.route("GET", "/api/batches", (req) =>
      req.search.includes("cursor=")
        ? { status: 200, json: { items: [{ ...summary, id: "batch-p1-r1", status: "COMPLETED", endedAt: "2026-12-07T20:01:00Z" }] } }
        : { status: 200, json: { items: [summary], nextCursor: "c2" } },
    );
    const c = client();
    const first = await c.listBatches({ status: "RUNNING", limit: 1 });
    expect(server.requests.at(-1)!.search).toBe("?status=RUNNING&limit=1");
    expect(first.items[0]!.progress?.inFlight).toBe(3);
    expect(first.nextCursor).toBe("c2");
    const second = await c.listBatches({ cursor: first.nextCursor! });
    expect(server.requests.at(-1)!.search).toBe("?cursor=c2");
    expect(second.items.map((b) => b.status)).toEqual(["COMPLETED"]);
    expect(second.nextCursor).toBeUndefined();
    expectTypeOf<BatchSummary["status"]>().toEqualTypeOf<"RUNNING" | "COMPLETED" | "CANCELLED" | "FAILED">();

    server.route("GET", "/api/batches", () => ({
      status: 400,
      json: { code: "INVALID_STATUS", message: "status is one of running, completed, cancelled, failed; got done", problems: [] },
    }));
    const refused = await c.listBatches({ status: "done" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TemperaApiError);
    expect((refused as TemperaApiError).code).toBe("INVALID_STATUS");
  });

  it("batchEvents reads the batch's progress events until its end, resuming after lastEventId", async () => {
    const counts = (waiting: number, inFlight: number, cancelled: number) => ({
      total: 4,
      waiting,
      inFlight,
      succeeded: 0,
      failed: 0,
      cancelled,
    });
    server.route("GET", "/api/batches/batch-p1-r2/events", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": keep-alive\n\n");
      res.write(`event:progress\nid:3\ndata:${JSON.stringify({ batchId: "batch-p1-r2", eventId: 3, status: "RUNNING", progress: counts(1, 3, 0) })}\n\n`);
      res.write(`event:cancelled\nid:7\ndata:${JSON.stringify({ batchId: "batch-p1-r2", eventId: 7, status: "CANCELLED", progress: counts(0, 0, 4) })}\n\n`);
      // anything after the end is not read
      res.end(`event:progress\nid:8\ndata:{}\n\n`);
    });
    const seen: BatchStreamEvent[] = [];
    for await (const e of client().batchEvents("batch-p1-r2", { lastEventId: 2 })) seen.push(e);
    expect(seen.map((e) => [e.event, e.id])).toEqual([
      ["progress", 3],
      ["cancelled", 7],
    ]);
    expect(seen[0]!.data.progress.inFlight).toBe(3);
    expect(seen[1]!.data.status).toBe("CANCELLED");
    const request = server.requests.at(-1)!;
    expect(request.headers["last-event-id"]).toBe("2");
    expect(request.headers.accept).toBe("text/event-stream");

    // a stream that ends before the batch did: ConnectionError (resume with the last id)
    server.route("GET", "/api/batches/batch-p1-r2/events", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`event:progress\nid:3\ndata:${JSON.stringify({ batchId: "batch-p1-r2", eventId: 3, status: "RUNNING", progress: counts(1, 3, 0) })}\n\n`);
    });
    const broken = await (async () => {
      for await (const _ of client().batchEvents("batch-p1-r2")) void _;
    })().catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(ConnectionError);
  });

  it("batchEvents over the WebSocket: subscribe_batch, batch_progress as progress, batch_ended as its end; resumed after a drop from the last id", async () => {
    const counts = (waiting: number, inFlight: number, succeeded: number) => ({ total: 3, waiting, inFlight, succeeded, failed: 0, cancelled: 0 });
    server.onMessage = (m, conn) => {
      if (m.type !== "subscribe_batch") return;
      if (conn.index === 0) {
        conn.send({ type: "batch_progress", batchId: m.batchId, eventId: 2, status: "running", progress: counts(1, 2, 0) });
        conn.send({ type: "batch_progress", batchId: "batch-other", eventId: 9, status: "running", progress: counts(0, 0, 0) });
        setTimeout(() => conn.socket.terminate(), 20); // the socket drops mid-batch
      } else {
        // after the reconnect: from the last id seen; an event already seen is not delivered twice
        conn.send({ type: "batch_progress", batchId: m.batchId, eventId: 2, status: "running", progress: counts(1, 2, 0) });
        conn.send({ type: "batch_progress", batchId: m.batchId, eventId: 4, status: "running", progress: counts(0, 2, 1) });
        conn.send({ type: "batch_ended", batchId: m.batchId, eventId: 7, status: "completed", progress: counts(0, 0, 3) });
      }
    };
    const seen: BatchStreamEvent[] = [];
    for await (const e of client().batchEvents("batch-p1-ws", { transport: "websocket", lastEventId: 1 })) seen.push(e);
    expect(seen.map((e) => [e.event, e.id])).toEqual([
      ["progress", 2],
      ["progress", 4],
      ["completed", 7],
    ]);
    expect(seen[2]!.data).toEqual({ batchId: "batch-p1-ws", eventId: 7, status: "COMPLETED", progress: counts(0, 0, 3) });
    const subscribes = server.received.filter((r) => r.message.type === "subscribe_batch");
    expect(subscribes.map((r) => [r.connection, r.message.lastEventId])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(server.requests).toEqual([]); // nothing over REST
  });

  it("batchEvents over the WebSocket rejects with the server's error for that batch", async () => {
    server.onMessage = (m, conn) => {
      if (m.type === "subscribe_batch") {
        conn.send({ type: "error", code: "NOT_FOUND", status: 404, message: "There is no such batch", batchId: m.batchId });
      }
    };
    const error = await (async () => {
      for await (const _ of client().batchEvents("batch-p1-nope", { transport: "websocket" })) void _;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemperaApiError);
    expect(error).toMatchObject({ code: "NOT_FOUND", status: 404 });
  });
});
