import { ConnectionError, TemperaApiError, TemperaError } from "./errors.js";
import { GenerationHandleImpl, type GenerationHandle, type HandleHost } from "./handle.js";
import type {
  Accepted,
  ApiErrorBody,
  Authenticated,
  Batch,
  BatchAccepted,
  BatchOutput,
  BatchPageRequest,
  BatchList,
  BatchStreamEvent,
  BatchProgressMessage,
  BatchEndedMessage,
  ListBatchesQuery,
  GenerationList,
  ListGenerationsQuery,
  StartBatchRequest,
  BatchAcknowledged,
  StartBatchMessage,
  ClientMessage,
  ConnectionState,
  FunctionInfo,
  SystemInfo,
  Generation,
  GenerationEvent,
  GenerationStreamEvent,
  Identity,
  Output,
  OutputValue,
  RequestProblem,
  ServerErrorMessage,
  StartGenerationMessage,
  StartGenerationRequest,
  TaskAcknowledged,
  UploadResult,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

export interface ReconnectOptions {
  /** Delay before the first reconnect attempt; doubles each failed attempt. Default 500 ms. */
  initialDelayMs?: number;
  /** Upper bound of the delay between attempts. Default 15 000 ms. */
  maxDelayMs?: number;
  /**
   * Consecutive failed attempts after which pending starts and followed tasks reject with
   * ConnectionError. Default: unlimited (keep trying).
   */
  maxAttempts?: number;
}

export interface TemperaClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  baseUrl: string;
  /**
   * The API key (`tpk_…`) the server requires on `/api/**` and `/ws`. It is sent as
   * `Authorization: Bearer <key>` on every REST call to baseUrl's origin (uploads and downloads
   * included), and as the first message (`authenticate`) on every WebSocket (re)connection. The
   * embedded server prints a development key for project `demo` at its first start;
   * `java -jar <app jar> keys create --project <p>` makes more. Without it the server answers
   * TemperaApiError `UNAUTHENTICATED` (HTTP 401).
   */
  apiKey?: string;
  /**
   * A WebSocket constructor. Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20
   * pass the `ws` package's: `import WebSocket from "ws"`.
   */
  WebSocket?: WebSocketConstructor;
  /** A fetch implementation; defaults to the global fetch. */
  fetch?: typeof fetch;
  reconnect?: ReconnectOptions;
  /** The WebSocket URL; defaults to baseUrl with ws(s):// and `/ws` appended. */
  wsUrl?: string;
  /** How long startGeneration waits for `task_acknowledged` (reconnects included). Default 30 000 ms; 0 waits forever. */
  requestTimeoutMs?: number;
  /**
   * Sends `ping` when this long passed without a ping, and drops the socket (then reconnects and
   * resumes) when a whole interval passes after a ping with no message at all. Default 20 000 ms; 0 disables.
   */
  heartbeatIntervalMs?: number;
}

export interface StartOptions {
  /** Aborting stops waiting for the ack (the generation may still start on the server). */
  signal?: AbortSignal;
}

/** Options of `startBatch`. */
export interface StartBatchOptions extends StartOptions {
  /**
   * `rest` (default): `POST /api/batches`. `websocket`: `start_batch` on the client's socket, answered
   * by `batch_acknowledged` (re-sent with the same requestId after a reconnect, like `startGeneration`;
   * times out after `requestTimeoutMs`).
   */
  transport?: "rest" | "websocket";
}

/** A start sent on the socket and not answered yet, keyed by {@link pendingKey}. */
interface PendingStart<T = unknown> {
  key: string;
  message: StartGenerationMessage | StartBatchMessage;
  resolve(value: T): void;
  reject(error: unknown): void;
  promise: Promise<T>;
  cleanup(): void;
}

/** Starts of generations and of batches wait apart: a batch and a generation may share a requestId. */
function pendingKey(type: "start_generation" | "start_batch", requestId: string): string {
  return type === "start_batch" ? `batch:${requestId}` : requestId;
}

const OPEN = 1;
/** The close code the server uses after refusing a key (policy violation). */
const CLOSE_POLICY_VIOLATION = 1008;
const UNAUTHENTICATED = "UNAUTHENTICATED";
const SUBSCRIBE_BATCH = 100;
const RETRYABLE_FOLLOW_CODES = new Set(["ORCHESTRATOR_UNAVAILABLE", "INTERNAL"]);
const MAX_FOLLOW_RETRIES = 5;

/**
 * The Tempera client: REST calls, and one lazily opened WebSocket to start generations and follow
 * their progress. The socket reconnects with exponential backoff and resumes every followed task
 * from the last event it saw, so no progress event is missed or delivered twice.
 */
export class TemperaClient {
  /** The base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly wsUrl: string;

  private readonly fetchImpl: typeof fetch;
  private readonly webSocketImpl: WebSocketConstructor | undefined;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAttempts: number;
  private readonly requestTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly apiKey: string | undefined;
  private readonly origin: string;

  private socket: WebSocketLike | undefined;
  private socketOpen = false;
  /**
   * True from `authenticate` until the server's `authenticated`: nothing else is sent meanwhile. A
   * refused key closes the socket; anything the client sent after `authenticate` could then reach a
   * server that has already closed the connection, whose TCP reset loses the refusal and the close
   * frame on their way in (the client saw a dropped connection, 1006, and connected again).
   */
  private authenticating = false;
  private state: ConnectionState = "idle";
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private pingSentAt: number | undefined;
  /** The batches followed on the socket (`batchEvents(id, {transport: "websocket"})`), by id. */
  private readonly batchFollows = new Map<string, BatchFollow>();
  private closed = false;
  /**
   * Received messages not handled yet, with the socket they came on (see drain()); `refused` marks
   * a close with code 1008, handled in order after the messages before it.
   */
  private readonly inbox: { socket: WebSocketLike; text?: string; refused?: string }[] = [];
  /** The socket whose refusal (UNAUTHENTICATED) was handled: a second sign of it is ignored. */
  private refusedSocket: WebSocketLike | undefined;
  /** A socket was closed with 1008 and its refusal is not handled yet: do not reconnect. */
  private refusalPending = false;
  private currentIdentity: Identity | undefined;
  private readonly identityListeners = new Set<(identity: Identity) => void>();
  private inboxPaused = false;

  private readonly tasks = new Map<string, GenerationHandleImpl>();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly pending = new Map<string, PendingStart<any>>();
  private readonly followRetries = new Map<string, { count: number; timer: ReturnType<typeof setTimeout> | undefined }>();
  private readonly connectionListeners = new Set<(state: ConnectionState) => void>();
  private readonly errorListeners = new Set<(error: unknown) => void>();
  private readonly host: HandleHost = {
    cancelTask: (taskId) => this.cancel(taskId),
    unfollow: (handle) => this.unfollow(handle),
    reportListenerError: (error) => this.reportListenerError(error),
  };

  constructor(options: TemperaClientOptions) {
    if (!options || typeof options.baseUrl !== "string") {
      throw new TypeError("TemperaClient needs options.baseUrl, e.g. http://127.0.0.1:8080");
    }
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    this.wsUrl = options.wsUrl ?? toWebSocketUrl(this.baseUrl);
    const f = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    this.fetchImpl =
      f ??
      (() => Promise.reject(new ConnectionError("No fetch implementation: pass one as the fetch option")));
    this.webSocketImpl = options.WebSocket;
    this.initialDelayMs = Math.max(1, options.reconnect?.initialDelayMs ?? 500);
    this.maxDelayMs = Math.max(this.initialDelayMs, options.reconnect?.maxDelayMs ?? 15_000);
    this.maxAttempts = options.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 20_000;
    this.apiKey = options.apiKey?.trim() || undefined;
    this.origin = new URL(this.baseUrl).origin;
  }

  // ---------------------------------------------------------------- REST

  /**
   * `GET /api/system`: which Temporal the system runs on (`IN_PROCESS_TEST_SERVER`, `DEV_SERVER`,
   * `CLUSTER`) and whether running generations survive a restart of it (`durable`).
   */
  system(): Promise<SystemInfo> {
    return this.request<SystemInfo>("GET", "/api/system");
  }

  /** `GET /api/functions` */
  listFunctions(): Promise<FunctionInfo[]> {
    return this.request<FunctionInfo[]>("GET", "/api/functions");
  }

  /** `GET /api/functions/{id}`; rejects with TemperaApiError `NOT_FOUND` for an unknown id. */
  getFunction(id: string): Promise<FunctionInfo> {
    return this.request<FunctionInfo>("GET", `/api/functions/${encodeURIComponent(id)}`);
  }

  /**
   * Uploads an image (PNG, JPEG, WebP or GIF; the server checks the bytes) into a project. The
   * returned `path` is what an image parameter takes.
   */
  uploadImage(projectId: string, data: Blob | Uint8Array, filename?: string): Promise<UploadResult> {
    let blob: Blob;
    let name = filename;
    if (data instanceof Uint8Array) {
      const type = sniffImageType(data);
      blob = new Blob([new Uint8Array(data)], type ? { type } : {});
      name ??= `upload${extensionOf(type)}`;
    } else {
      blob = data;
      const fileName = (data as Blob & { name?: unknown }).name;
      name ??= typeof fileName === "string" && fileName ? fileName : `upload${extensionOf(data.type)}`;
    }
    const form = new FormData();
    form.append("file", blob, name);
    return this.request<UploadResult>("POST", `/api/projects/${encodeURIComponent(projectId)}/uploads`, { body: form });
  }

  /**
   * Reads an upload of a project back (`GET /api/projects/{projectId}/uploads/{name}`, with the key):
   * `path` as the upload's answer or a generation's `inputs` give it (`uploads/<name>`). Rejects with
   * TemperaApiError `NOT_FOUND` once it is deleted, `UNKNOWN_PROJECT` for another project's.
   */
  async downloadUpload(projectId: string, path: string): Promise<Uint8Array> {
    const name = path.startsWith("uploads/") ? path.slice("uploads/".length) : path;
    const response = await this.send(
      "GET",
      `${this.baseUrl}/api/projects/${encodeURIComponent(projectId)}/uploads/${encodeURIComponent(name)}`,
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /** `GET /api/generations/{id}` */
  getGeneration(id: string): Promise<Generation> {
    return this.request<Generation>("GET", `/api/generations/${encodeURIComponent(id)}`).then(withValues);
  }

  /** `POST /api/generations/{id}/cancel`: resolves with the generation's state (terminal if it already ended). */
  cancel(id: string): Promise<Generation> {
    return this.request<Generation>("POST", `/api/generations/${encodeURIComponent(id)}/cancel`).then(withValues);
  }

  /**
   * `POST /api/generations`: starts a generation over REST without following it (use
   * startGeneration for the WebSocket path, or follow() the returned id).
   */
  createGeneration(req: StartGenerationRequest): Promise<Accepted> {
    return this.request<Accepted>("POST", "/api/generations", {
      json: {
        functionId: req.functionId,
        functionVersion: req.functionVersion,
        tier: req.tier,
        priority: req.priority,
        parameters: req.parameters ?? {},
        projectId: req.projectId,
        nodeId: req.nodeId,
        requestId: req.requestId,
        webhook: req.webhook,
      },
    });
  }

  /**
   * `POST /api/batches`: starts a batch of variations of one generation — `count` variations with
   * new seeds (of each sweep combination) and/or `sweep` (`{parameter: [values…]}`, the cartesian
   * product) — and resolves with `{id, status, total}`. Read its progress and results with
   * `batch(id)`, stop it with `cancelBatch(id)`. The requestId (generated when omitted) makes a
   * retried call find the same batch. Rejects with TemperaApiError: `422 BATCH_NOTHING_VARIES`
   * (count without a random parameter left out), `422 INVALID_SWEEP`, `422 BATCH_TOO_LARGE`, a 429
   * quota (`retryAfterSeconds`) for the batch as a whole, and the codes a generation's start has.
   * With `{transport: "websocket"}` it is sent as `start_batch` on the socket instead.
   */
  startBatch(req: StartBatchRequest, options?: StartBatchOptions): Promise<BatchAccepted> {
    const requestId = req.requestId ?? randomId();
    if (options?.transport !== "websocket") {
      return this.request<BatchAccepted>("POST", "/api/batches", { json: batchBody(req, requestId), signal: options?.signal });
    }
    if (this.closed) return Promise.reject(new ConnectionError("The client was closed"));
    const existing = this.pending.get(pendingKey("start_batch", requestId));
    if (existing) return existing.promise as Promise<BatchAccepted>;
    const message = { type: "start_batch", ...batchBody(req, requestId) } as StartBatchMessage;
    return this.sendStart<BatchAccepted>(message, options);
  }

  /**
   * `GET /api/batches/{id}`: the batch's status and progress counts, and one page of its
   * variations (`offset` default 0, `limit` default 100, at most 500): each one's status, what it
   * varies, its outputs' signed URLs or its error. Another project's batch is `404 NOT_FOUND`.
   */
  batch(id: string, page?: BatchPageRequest): Promise<Batch> {
    const query = new URLSearchParams();
    if (page?.offset !== undefined) query.set("offset", String(page.offset));
    if (page?.limit !== undefined) query.set("limit", String(page.limit));
    const search = query.size > 0 ? `?${query}` : "";
    return this.request<Batch>("GET", `/api/batches/${encodeURIComponent(id)}${search}`);
  }

  /**
   * `POST /api/batches/{id}/cancel`: cancel-all. Its generations not ended are cancelled and those
   * not started never start; the batch ends `CANCELLED` with the results so far. Resolves with its
   * state as the server answered (the cancellations may still be under way: read `batch(id)` again).
   */
  cancelBatch(id: string): Promise<Batch> {
    return this.request<Batch>("POST", `/api/batches/${encodeURIComponent(id)}/cancel`);
  }

  /**
   * `GET /api/batches`: the project's batches, newest first, each with its status, counts and
   * `createdAt`; `status` (`RUNNING`, `COMPLETED`, `CANCELLED`, `FAILED`) filters them; pass the
   * answer's `nextCursor` as `cursor` (with the same status) for the next page. Another project's
   * batches never appear. Rejects with `400 INVALID_STATUS`, `INVALID_CURSOR` or `INVALID_LIMIT`.
   */
  listBatches(query: ListBatchesQuery = {}): Promise<BatchList> {
    const params = new URLSearchParams();
    if (query.status) params.set("status", query.status);
    if (query.cursor) params.set("cursor", query.cursor);
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const search = params.size > 0 ? `?${params}` : "";
    return this.request<BatchList>("GET", `/api/batches${search}`);
  }

  /**
   * `GET /api/generations`: the project's generations, newest first, filtered by `status`,
   * `function`, `node` and `since`; pass the answer's `nextCursor` as `cursor` (with the same
   * filters) for the next page. Rejects with `400 INVALID_STATUS`, `INVALID_SINCE`,
   * `INVALID_CURSOR` or `INVALID_LIMIT` for a bad filter.
   */
  listGenerations(query: ListGenerationsQuery = {}): Promise<GenerationList> {
    const params = new URLSearchParams();
    for (const key of ["project", "status", "function", "node", "cursor"] as const) {
      const value = query[key];
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    if (query.since !== undefined) {
      params.set("since", query.since instanceof Date ? query.since.toISOString() : query.since);
    }
    if (query.limit !== undefined) params.set("limit", String(query.limit));
    const search = params.size > 0 ? `?${params}` : "";
    return this.request<GenerationList>("GET", `/api/generations${search}`);
  }

  /**
   * `GET /api/generations/{id}/events`: the generation's server-sent events, read with fetch (so the
   * API key goes as a header): `state` first, then `phase` and `progress` as they happen, then one
   * terminal event (`succeeded`, `failed` or `cancelled`, with the final state), after which the
   * iteration ends. Pass the last `id` you saw as `lastEventId` to resume after a drop: the stream
   * then starts with the current state and skips the events you saw. Rejects with TemperaApiError
   * (e.g. 404 `NOT_FOUND`, 429 `TOO_MANY_CONNECTIONS`), and with ConnectionError when the stream
   * breaks before the terminal event. Breaking out of the loop (or aborting `signal`) closes it.
   */
  async *events(
    id: string,
    options?: { lastEventId?: number; signal?: AbortSignal },
  ): AsyncGenerator<GenerationStreamEvent, void, undefined> {
    const url = `${this.baseUrl}/api/generations/${encodeURIComponent(id)}/events`;
    for await (const block of this.eventStream(url, options, (event) => GENERATION_ENDS.has(event), "the generation")) {
      const event = parseServerSentEvent(block);
      if (event) yield event;
    }
  }

  /**
   * `GET /api/batches/{id}/events`: the batch's progress as server-sent events: `progress` (its
   * counts, read by the server at most once a second and sent when they moved), then one terminal
   * event (`completed`, `cancelled` or `failed`, with its last counts), after which the iteration
   * ends. `id` increases as the batch moves; pass the last one seen as `lastEventId` to resume
   * after a drop (only what moved since comes again). Rejects with TemperaApiError (404
   * `NOT_FOUND` for another project's batch, 429 `TOO_MANY_CONNECTIONS`), and with ConnectionError
   * when the stream breaks before the end. Breaking out of the loop (or aborting `signal`) closes it.
   */
  async *batchEvents(
    id: string,
    options?: { lastEventId?: number; signal?: AbortSignal; transport?: "sse" | "websocket" },
  ): AsyncGenerator<BatchStreamEvent, void, undefined> {
    if (options?.transport === "websocket") {
      yield* this.batchEventsOnSocket(id, options);
      return;
    }
    const url = `${this.baseUrl}/api/batches/${encodeURIComponent(id)}/events`;
    for await (const block of this.eventStream(url, options, (event) => BATCH_ENDS.has(event), "the batch")) {
      const event = parseEventBlock(block);
      if (event) yield { event: event.event, id: event.id, data: event.data } as BatchStreamEvent;
    }
  }

  /**
   * `batchEvents` over the client's WebSocket: `subscribe_batch`, then its `batch_progress` and
   * `batch_ended` messages as the same events; after a reconnect it subscribes again from the last
   * event id seen. One follower per batch and client at a time.
   */
  private async *batchEventsOnSocket(
    id: string,
    options: { lastEventId?: number; signal?: AbortSignal },
  ): AsyncGenerator<BatchStreamEvent, void, undefined> {
    if (this.closed) throw new ConnectionError("The client was closed");
    if (this.batchFollows.has(id)) throw new TemperaError(`Batch ${id} is already followed on this client's socket`);
    const follow: BatchFollow = { id, lastEventId: options.lastEventId ?? 0, queue: [], done: false };
    this.batchFollows.set(id, follow);
    const onAbort = () => {
      follow.done = true;
      follow.wake?.();
    };
    options.signal?.addEventListener("abort", onAbort);
    try {
      if (!this.sendMessage({ type: "subscribe_batch", batchId: id, lastEventId: follow.lastEventId })) this.ensureConnected();
      for (;;) {
        const next = follow.queue.shift();
        if (next) {
          yield next;
          if (next.event !== "progress") return;
          continue;
        }
        if (follow.error) throw follow.error;
        if (follow.done) return;
        await new Promise<void>((resolve) => (follow.wake = resolve));
        follow.wake = undefined;
      }
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (this.batchFollows.get(id) === follow) this.batchFollows.delete(id);
    }
  }

  private onBatchMessage(message: BatchProgressMessage | BatchEndedMessage): void {
    const follow = this.batchFollows.get(message.batchId);
    if (!follow || message.eventId <= follow.lastEventId) return;
    follow.lastEventId = message.eventId;
    const data = {
      batchId: message.batchId,
      eventId: message.eventId,
      status: message.status.toUpperCase(),
      progress: message.progress,
      ...("quotaWait" in message && message.quotaWait ? { quotaWait: message.quotaWait } : {}),
    } as BatchStreamEvent["data"];
    const event = message.type === "batch_ended" ? message.status : "progress";
    follow.queue.push({ event, id: message.eventId, data } as BatchStreamEvent);
    if (message.type === "batch_ended") this.batchFollows.delete(follow.id);
    follow.wake?.();
  }

  private failBatchFollow(follow: BatchFollow, error: TemperaError): void {
    if (this.batchFollows.get(follow.id) === follow) this.batchFollows.delete(follow.id);
    follow.error = error;
    follow.wake?.();
  }

  /**
   * The raw event blocks of a server-sent event stream (keep-alive comments included, which the
   * parsers skip), ending after the first event whose name `isEnd` accepts.
   */
  private async *eventStream(
    url: string,
    options: { lastEventId?: number; signal?: AbortSignal } | undefined,
    isEnd: (event: string) => boolean,
    what: string,
  ): AsyncGenerator<string, void, undefined> {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options?.lastEventId !== undefined) headers["last-event-id"] = String(options.lastEventId);
    const response = await this.send("GET", url, { headers, signal: options?.signal });
    if (!response.body) throw new ConnectionError(`GET ${url} answered without a body`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let ended = false;
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (options?.signal?.aborted) return;
          throw new ConnectionError(`The event stream of ${url} broke: ${errorMessage(error)}`, { cause: error });
        }
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          yield block;
          const name = parseEventBlock(block)?.event;
          if (name !== undefined && isEnd(name)) {
            ended = true;
            return;
          }
        }
      }
      if (!ended && !options?.signal?.aborted) {
        throw new ConnectionError(
          `The event stream of ${url} ended before ${what} did; resume with its last event id as lastEventId`,
        );
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  /** An output's absolute URL (outputs carry URLs relative to baseUrl). */
  outputUrl(output: Output | BatchOutput | string): string {
    const url = typeof output === "string" ? output : output.url;
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
    return this.baseUrl + (url.startsWith("/") ? url : `/${url}`);
  }

  /** Downloads an output's bytes (with the API key when the URL is on baseUrl's origin; signed URLs need none). */
  async downloadOutput(output: Output | BatchOutput | string): Promise<Uint8Array> {
    const response = await this.send("GET", this.outputUrl(output));
    return new Uint8Array(await response.arrayBuffer());
  }

  // ---------------------------------------------------------------- WebSocket

  /**
   * Sends `start_generation` over the WebSocket and resolves with a handle once the server
   * acknowledges it (the handle is then already following the task). Rejects with
   * TemperaApiError when the server refuses (unknown function, bad parameters, ...), and with
   * ConnectionError on timeout or when the client is closed. If the socket drops before the ack,
   * the same message (same requestId) is sent again after reconnecting: the server starts one
   * generation per requestId.
   */
  startGeneration(req: StartGenerationRequest, options?: StartOptions): Promise<GenerationHandle> {
    if (this.closed) return Promise.reject(new ConnectionError("The client was closed"));
    const requestId = req.requestId ?? randomId();
    const existing = this.pending.get(requestId);
    if (existing) return existing.promise;
    const message: StartGenerationMessage = {
      type: "start_generation",
      functionId: req.functionId,
      parameters: req.parameters ?? {},
      nodeId: req.nodeId,
      requestId,
    };
    if (req.projectId !== undefined) message.projectId = req.projectId;
    if (req.tier !== undefined) message.tier = req.tier;
    if (req.priority !== undefined) message.priority = req.priority;
    if (req.functionVersion !== undefined) message.functionVersion = req.functionVersion;
    if (req.webhook !== undefined) message.webhook = req.webhook;

    return this.sendStart<GenerationHandle>(message, options);
  }

  /** Sends a start on the socket and waits for its answer (ack or error, matched by requestId). */
  private sendStart<T>(message: StartGenerationMessage | StartBatchMessage, options: StartOptions | undefined): Promise<T> {
    const requestId = message.requestId!;
    const key = pendingKey(message.type, requestId);
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const signal = options?.signal;
    const onAbort = () => {
      if (this.pending.get(key) !== entry) return;
      this.pending.delete(key);
      entry.cleanup();
      reject(signal?.reason ?? new TemperaError("Aborted"));
    };
    const entry: PendingStart<T> = {
      key,
      message,
      promise,
      resolve,
      reject,
      cleanup: () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      },
    };
    if (signal?.aborted) return Promise.reject(signal.reason ?? new TemperaError("Aborted"));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (this.requestTimeoutMs > 0) {
      timer = setTimeout(() => {
        if (this.pending.get(key) !== entry) return;
        this.pending.delete(key);
        entry.cleanup();
        reject(
          new ConnectionError(
            `No answer to ${message.type} (requestId ${requestId}) within ${this.requestTimeoutMs} ms; ` +
              "retrying with the same requestId is safe",
          ),
        );
      }, this.requestTimeoutMs);
    }
    this.pending.set(key, entry);
    if (!this.sendMessage(message)) this.ensureConnected();
    return promise;
  }

  /**
   * Follows an existing generation (e.g. after a page reload): sends `subscribe` and returns a
   * handle at once. Following the same task twice gives the same handle while it is unfinished.
   */
  follow(taskId: string): GenerationHandle {
    const existing = this.tasks.get(taskId);
    if (existing && !existing.done) return existing;
    const handle = new GenerationHandleImpl(this.host, taskId);
    if (this.closed) {
      handle.fail(new ConnectionError("The client was closed"), false);
      return handle;
    }
    this.tasks.set(taskId, handle);
    this.subscribe([handle]);
    return handle;
  }

  /**
   * Whom the API key acts for (`{projectId, role}`), once the server answered `authenticate` on
   * the WebSocket; undefined before that, without a key, and after the key was refused.
   */
  get identity(): Identity | undefined {
    return this.currentIdentity;
  }

  /** Called with the identity each time the server accepts the key (every (re)connection). Returns an unsubscribe function. */
  onIdentity(callback: (identity: Identity) => void): () => void {
    this.identityListeners.add(callback);
    return () => this.identityListeners.delete(callback);
  }

  /** The WebSocket connection's state. */
  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Called when the connection state changes. Returns an unsubscribe function. */
  onConnectionState(callback: (state: ConnectionState) => void): () => void {
    this.connectionListeners.add(callback);
    return () => this.connectionListeners.delete(callback);
  }

  /**
   * Called for server `error` messages that answer no pending request nor followed task, and for
   * exceptions thrown by your event callbacks. Returns an unsubscribe function.
   */
  onError(callback: (error: unknown) => void): () => void {
    this.errorListeners.add(callback);
    return () => this.errorListeners.delete(callback);
  }

  /**
   * Closes the WebSocket and stops reconnecting. Pending startGeneration calls and result() of
   * unfinished handles reject with ConnectionError; their iterators end. REST calls still work.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopHeartbeat();
    for (const retry of this.followRetries.values()) {
      if (retry.timer !== undefined) clearTimeout(retry.timer);
    }
    this.followRetries.clear();
    const socket = this.socket;
    this.socket = undefined;
    this.socketOpen = false;
    if (socket) safeClose(socket, 1000, "client closed");
    this.inbox.length = 0;
    this.failEverything(new ConnectionError("The client was closed"), false);
    this.setState("closed");
  }

  // ---------------------------------------------------------------- handle support

  private unfollow(handle: GenerationHandleImpl): void {
    if (this.tasks.get(handle.taskId) !== handle) return;
    this.tasks.delete(handle.taskId);
    this.clearFollowRetry(handle.taskId);
    if (handle.followedOnSocket) {
      this.sendMessage({ type: "unsubscribe", taskIds: [handle.taskId] });
      handle.followedOnSocket = false;
    }
  }

  private reportListenerError(error: unknown): void {
    if (this.errorListeners.size === 0) {
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    this.emitError(error);
  }

  // ---------------------------------------------------------------- REST internals

  private async request<T>(
    method: string,
    path: string,
    init?: { json?: unknown; body?: BodyInit; signal?: AbortSignal },
  ): Promise<T> {
    const response = await this.send(method, this.baseUrl + path, init);
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new TemperaError(`${method} ${path}: the server answered ${response.status} with a body that is not JSON`, {
        cause: error,
      });
    }
  }

  /** Sends a request; resolves with an ok response, rejects with TemperaApiError or ConnectionError. */
  private async send(
    method: string,
    url: string,
    init?: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...init?.headers };
    if (this.apiKey !== undefined && sameOrigin(url, this.origin)) headers.authorization = `Bearer ${this.apiKey}`;
    let body: BodyInit | undefined = init?.body;
    if (init?.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    const fetchImpl = this.fetchImpl;
    let response: Response;
    try {
      const request: RequestInit = { method, headers };
      if (body !== undefined) request.body = body;
      if (init?.signal) request.signal = init.signal;
      response = await fetchImpl(url, request);
    } catch (error) {
      if (error instanceof TemperaError) throw error;
      throw new ConnectionError(`${method} ${url} failed: ${errorMessage(error)}`, { cause: error });
    }
    if (!response.ok) throw await apiErrorFrom(response, method, url);
    return response;
  }

  // ---------------------------------------------------------------- WebSocket internals

  private subscribe(handles: GenerationHandleImpl[]): void {
    if (!this.socketOpen) {
      this.ensureConnected();
      return;
    }
    for (let i = 0; i < handles.length; i += SUBSCRIBE_BATCH) {
      const batch = handles.slice(i, i + SUBSCRIBE_BATCH);
      const lastEventIds: Record<string, number> = {};
      for (const handle of batch) lastEventIds[handle.taskId] = handle.lastEventId;
      const sent = this.sendMessage({
        type: "subscribe",
        taskIds: batch.map((handle) => handle.taskId),
        lastEventIds,
      });
      if (!sent) return; // the drop handler resubscribes everything
      for (const handle of batch) handle.followedOnSocket = true;
    }
  }

  private sendMessage(message: ClientMessage): boolean {
    const socket = this.socket;
    if (!socket || !this.socketOpen || socket.readyState !== OPEN) return false;
    if (this.authenticating && message.type !== "authenticate") return false; // resume() sends it after
    try {
      socket.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  private ensureConnected(): void {
    if (this.closed || this.socket || this.reconnectTimer !== undefined) return;
    this.openSocket();
  }

  private openSocket(): void {
    if (this.closed) return;
    const Impl = this.webSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Impl) {
      this.failEverything(
        new ConnectionError(
          "No WebSocket implementation: pass one as the WebSocket option (in Node 20: import WebSocket from 'ws')",
        ),
      );
      return;
    }
    this.setState(this.attempts === 0 ? "connecting" : "reconnecting");
    let socket: WebSocketLike;
    try {
      socket = new Impl(this.wsUrl);
    } catch (error) {
      this.emitError(new ConnectionError(`Cannot open ${this.wsUrl}: ${errorMessage(error)}`, { cause: error }));
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.socketOpen = false;
    this.authenticating = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.socketOpen = true;
      // First on every connection, before anything a state listener or resume() might send.
      this.attempts = 0;
      if (this.apiKey !== undefined) {
        this.sendMessage({ type: "authenticate", key: this.apiKey });
        this.authenticating = true; // resume() once the server accepted the key (onAuthenticated)
      }
      this.setState("open");
      this.startHeartbeat();
      if (!this.authenticating) this.resume();
    };
    socket.onmessage = (event: { data?: unknown }) => {
      if (this.socket !== socket) return;
      this.pingSentAt = undefined;
      const text = decode(event?.data);
      if (text === undefined) return;
      this.inbox.push({ socket, text });
      this.drain();
    };
    socket.onclose = (event: { code?: unknown; reason?: unknown }) => {
      if (this.socket === socket && event?.code === CLOSE_POLICY_VIOLATION) {
        // The server refused this connection (a wrong key, or no authenticate): no reconnect loop.
        this.refusalPending = true;
        this.inbox.push({ socket, refused: typeof event.reason === "string" ? event.reason : "" });
        this.onDrop(socket);
        this.drain();
        return;
      }
      this.onDrop(socket);
    };
    socket.onerror = () => {
      // A close event follows in every implementation we know; this is in case it does not.
      if (this.socket !== socket) return;
      this.onDrop(socket);
      safeClose(socket);
    };
  }

  /** After (re)connecting: follow every unfinished task from where it was, re-send pending starts. */
  private resume(): void {
    const unfinished = [...this.tasks.values()].filter((handle) => !handle.done);
    if (unfinished.length > 0) this.subscribe(unfinished);
    for (const follow of this.batchFollows.values()) {
      if (!this.sendMessage({ type: "subscribe_batch", batchId: follow.id, lastEventId: follow.lastEventId })) return;
    }
    for (const entry of this.pending.values()) {
      if (!this.sendMessage(entry.message)) break;
    }
  }

  private onDrop(socket: WebSocketLike): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.socketOpen = false;
    this.authenticating = false;
    this.stopHeartbeat();
    // No-ops rather than null: an EventEmitter-based socket (ws) throws on an unheard 'error'.
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = ignore;
    for (const handle of this.tasks.values()) handle.followedOnSocket = false;
    if (this.closed) return;
    this.scheduleReconnect();
  }

  private hasWork(): boolean {
    if (this.pending.size > 0 || this.batchFollows.size > 0) return true;
    for (const handle of this.tasks.values()) if (!handle.done) return true;
    return false;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    if (this.refusalPending) {
      // failed by the refusal, in order with the messages before it (see drain)
      this.setState("idle");
      return;
    }
    if (!this.hasWork()) {
      // Nothing to resume: reconnect lazily on the next call.
      this.attempts = 0;
      this.setState("idle");
      return;
    }
    this.attempts++;
    if (this.attempts > this.maxAttempts) {
      this.attempts = 0;
      this.failEverything(new ConnectionError(`Could not reach ${this.wsUrl} after ${this.maxAttempts} attempts`));
      this.setState("idle");
      return;
    }
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempts - 1, 30));
    const delay = Math.min(this.maxDelayMs, Math.round(base * (0.8 + Math.random() * 0.4)));
    this.setState("reconnecting");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.openSocket();
    }, delay);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (this.heartbeatIntervalMs <= 0) return;
    this.pingSentAt = undefined;
    this.heartbeatTimer = setInterval(() => {
      const socket = this.socket;
      if (!socket || !this.socketOpen) return;
      if (this.pingSentAt !== undefined) {
        if (Date.now() - this.pingSentAt >= this.heartbeatIntervalMs) {
          // Nothing at all came back for a whole interval: the connection is dead.
          this.onDrop(socket);
          safeClose(socket, 4000, "heartbeat timeout");
        }
        return;
      }
      if (this.sendMessage({ type: "ping" })) this.pingSentAt = Date.now();
    }, this.heartbeatIntervalMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.pingSentAt = undefined;
  }

  /**
   * Handles queued messages in order. Some WebSocket implementations (the `ws` package) dispatch
   * every message of one network read synchronously, so after an ack resolves a startGeneration
   * promise the rest waits for one macrotask: code after `await startGeneration(...)` can
   * register its callbacks before the task's first events are delivered.
   */
  private drain(): void {
    while (!this.inboxPaused && !this.closed) {
      const entry = this.inbox.shift();
      if (entry === undefined) return;
      if (entry.text !== undefined) {
        this.onMessage(entry.text, entry.socket);
      } else {
        this.refusalPending = false;
        this.onRefused(
          new TemperaApiError({
            code: UNAUTHENTICATED,
            status: 401,
            message: `The server closed the connection (1008${entry.refused ? `: ${entry.refused}` : ""}): the API key was refused`,
          }),
          entry.socket,
        );
      }
    }
  }

  private pauseInbox(): void {
    if (this.inboxPaused) return;
    this.inboxPaused = true;
    setTimeout(() => {
      this.inboxPaused = false;
      this.drain();
    }, 0);
  }

  private onMessage(text: string, socket: WebSocketLike): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!isObject(message) || typeof message.type !== "string") return;
    switch (message.type) {
      case "task_acknowledged":
        this.onAcknowledged(message as unknown as TaskAcknowledged);
        break;
      case "task_state":
      case "task_progress":
      case "task_success":
      case "task_failed": {
        const event = message as unknown as GenerationEvent;
        if (event.type === "task_state") withValues(event.state);
        else if (event.type !== "task_progress") withValues(event);
        const handle = this.tasks.get(event.taskId);
        if (!handle) return;
        handle.deliver(event);
        if (event.type === "task_state") this.clearFollowRetry(handle.taskId);
        if (handle.done) {
          this.tasks.delete(handle.taskId);
          this.clearFollowRetry(handle.taskId);
        }
        break;
      }
      case "batch_acknowledged":
        this.onBatchAcknowledged(message as unknown as BatchAcknowledged);
        break;
      case "batch_progress":
      case "batch_ended":
        this.onBatchMessage(message as unknown as BatchProgressMessage | BatchEndedMessage);
        break;
      case "authenticated":
        this.onAuthenticated(message as unknown as Authenticated);
        break;
      case "error":
        this.onServerError(message as unknown as ServerErrorMessage, socket);
        break;
      default:
        // pong, and message types this client version does not know
        break;
    }
  }

  private onAcknowledged(ack: TaskAcknowledged): void {
    const entry = ack.requestId === undefined ? undefined : this.pending.get(ack.requestId);
    let handle = this.tasks.get(ack.taskId);
    if (!entry) {
      // An ack nobody waits for any more (aborted or timed out): don't keep the server following it.
      if (!handle) this.sendMessage({ type: "unsubscribe", taskIds: [ack.taskId] });
      return;
    }
    this.pending.delete(entry.key);
    entry.cleanup();
    if (!handle || handle.done) {
      handle = new GenerationHandleImpl(this.host, ack.taskId, { nodeId: ack.nodeId, requestId: ack.requestId });
      this.tasks.set(ack.taskId, handle);
    }
    handle.requestId ??= ack.requestId;
    handle.nodeId ??= ack.nodeId;
    handle.acknowledged(ack.status);
    // The server follows an acknowledged task on this socket by itself.
    handle.followedOnSocket = true;
    entry.resolve(handle);
    this.pauseInbox();
  }

  private onBatchAcknowledged(ack: BatchAcknowledged): void {
    const key = ack.requestId === undefined ? undefined : pendingKey("start_batch", ack.requestId);
    const entry = key === undefined ? undefined : this.pending.get(key);
    if (!entry) return; // nobody waits for it any more (aborted or timed out); the batch runs on
    this.pending.delete(entry.key);
    entry.cleanup();
    const accepted: BatchAccepted = { id: ack.batchId, status: ack.status.toUpperCase() as BatchAccepted["status"], total: ack.total };
    entry.resolve(accepted);
  }

  private onAuthenticated(message: Authenticated): void {
    const identity: Identity = {
      projectId: typeof message.projectId === "string" ? message.projectId : null,
      role: typeof message.role === "string" ? message.role : "project",
    };
    this.currentIdentity = identity;
    for (const listener of [...this.identityListeners]) {
      try {
        listener(identity);
      } catch (error) {
        this.reportListenerError(error);
      }
    }
    if (this.authenticating) {
      // the key was accepted: now follow the tasks and send the starts that waited
      this.authenticating = false;
      this.resume();
    }
  }

  /**
   * The server refused the key on `socket` (an UNAUTHENTICATED error, or a close with 1008): every
   * pending start and followed task rejects with it, and the client does not reconnect by itself
   * (the next call tries once more).
   */
  private onRefused(error: TemperaApiError, socket: WebSocketLike): void {
    if (this.refusedSocket === socket) return;
    this.refusedSocket = socket;
    this.currentIdentity = undefined;
    const answered = this.hasWork();
    this.failEverything(error);
    if (this.socket === socket) {
      this.onDrop(socket);
      safeClose(socket, 1000, "refused");
    }
    if (!this.closed && !this.socket && this.reconnectTimer === undefined) {
      this.attempts = 0;
      this.setState("idle");
    }
    if (!answered) this.emitError(error);
  }

  private onServerError(message: ServerErrorMessage, socket: WebSocketLike): void {
    const code = String(message.code ?? "UNKNOWN");
    const error = new TemperaApiError({
      code,
      status: typeof message.status === "number" ? message.status : code === UNAUTHENTICATED ? 401 : undefined,
      retryAfterSeconds: typeof message.retryAfterSeconds === "number" ? message.retryAfterSeconds : undefined,
      message: String(message.message ?? "The server reported an error"),
      problems: Array.isArray(message.problems) ? (message.problems as RequestProblem[]) : undefined,
      requestId: message.requestId,
      nodeId: message.nodeId,
      taskId: message.taskId,
    });
    if (error.code === UNAUTHENTICATED) {
      this.onRefused(error, socket);
      return;
    }
    // a refused start: the generation's, else the batch's with that requestId
    const entry =
      message.requestId === undefined
        ? undefined
        : (this.pending.get(pendingKey("start_generation", message.requestId)) ??
          this.pending.get(pendingKey("start_batch", message.requestId)));
    if (entry) {
      this.pending.delete(entry.key);
      entry.cleanup();
      entry.reject(error);
      return;
    }
    const follow = message.batchId === undefined ? undefined : this.batchFollows.get(message.batchId);
    if (follow) {
      this.failBatchFollow(follow, error);
      return;
    }
    const handle = message.taskId === undefined ? undefined : this.tasks.get(message.taskId);
    if (handle && !handle.done) {
      handle.followedOnSocket = false;
      if (RETRYABLE_FOLLOW_CODES.has(error.code) && this.retryFollow(handle)) return;
      this.tasks.delete(handle.taskId);
      this.clearFollowRetry(handle.taskId);
      handle.fail(error);
      return;
    }
    this.emitError(error);
  }

  /** Following failed on the server for a passing reason: subscribe again later. */
  private retryFollow(handle: GenerationHandleImpl): boolean {
    const retry = this.followRetries.get(handle.taskId) ?? { count: 0, timer: undefined };
    if (retry.count >= MAX_FOLLOW_RETRIES) return false;
    retry.count++;
    if (retry.timer !== undefined) clearTimeout(retry.timer);
    const delay = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (retry.count - 1));
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      if (this.tasks.get(handle.taskId) === handle && !handle.done && !handle.followedOnSocket) {
        this.subscribe([handle]);
      }
    }, delay);
    this.followRetries.set(handle.taskId, retry);
    return true;
  }

  private clearFollowRetry(taskId: string): void {
    const retry = this.followRetries.get(taskId);
    if (!retry) return;
    if (retry.timer !== undefined) clearTimeout(retry.timer);
    this.followRetries.delete(taskId);
  }

  private failEverything(error: TemperaError, throwInIterators = true): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) {
      entry.cleanup();
      entry.reject(error);
    }
    const handles = [...this.tasks.values()];
    this.tasks.clear();
    for (const handle of handles) handle.fail(error, throwInIterators);
    for (const follow of [...this.batchFollows.values()]) {
      if (throwInIterators) this.failBatchFollow(follow, error);
      else {
        this.batchFollows.delete(follow.id);
        follow.done = true;
        follow.wake?.();
      }
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.connectionListeners]) {
      try {
        listener(state);
      } catch (error) {
        this.reportListenerError(error);
      }
    }
  }

  private emitError(error: unknown): void {
    for (const listener of [...this.errorListeners]) {
      try {
        listener(error);
      } catch {
        // an error listener that throws has nowhere left to report to
      }
    }
  }
}

// ---------------------------------------------------------------- helpers

/** The JSON of `POST /api/batches` (and, with `type`, of `start_batch`): only the fields given. */
function batchBody(req: StartBatchRequest, requestId: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    functionId: req.functionId,
    parameters: req.parameters ?? {},
    nodeId: req.nodeId,
    requestId,
  };
  if (req.projectId !== undefined) body.projectId = req.projectId;
  if (req.functionVersion !== undefined) body.functionVersion = req.functionVersion;
  if (req.tier !== undefined) body.tier = req.tier;
  if (req.priority !== undefined) body.priority = req.priority;
  if (req.count !== undefined) body.count = req.count;
  if (req.sweep !== undefined) body.sweep = req.sweep;
  if (req.webhook !== undefined) body.webhook = req.webhook;
  return body;
}

function resolveBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    const location = (globalThis as { location?: { href?: string } }).location;
    if (!location?.href) throw new TypeError(`baseUrl must be an absolute URL, got '${baseUrl}'`);
    url = new URL(baseUrl, location.href);
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

function toWebSocketUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/ws`;
  return url.toString();
}

async function apiErrorFrom(response: Response, method: string, url: string): Promise<TemperaApiError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // no body
  }
  let body: Partial<ApiErrorBody> | undefined;
  try {
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (isObject(parsed)) body = parsed as Partial<ApiErrorBody>;
  } catch {
    // not JSON
  }
  const code = typeof body?.code === "string" ? body.code : `HTTP_${response.status}`;
  const message =
    typeof body?.message === "string"
      ? body.message
      : `${method} ${url} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${
          text ? `: ${text.slice(0, 200)}` : ""
        }`;
  return new TemperaApiError({
    status: response.status,
    retryAfterSeconds: retryAfter(response.headers.get("retry-after")),
    code,
    message,
    problems: Array.isArray(body?.problems) ? body.problems : undefined,
  });
}

/** `Retry-After` in seconds (it may be a number of seconds or an HTTP date); undefined without one. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** One server-sent event block (its lines without the blank line after them); undefined for comments only. */
/** One batch followed on the socket: its events not yet read, and where it got. */
interface BatchFollow {
  id: string;
  lastEventId: number;
  queue: BatchStreamEvent[];
  done: boolean;
  error?: TemperaError;
  wake?: () => void;
}

const GENERATION_ENDS = new Set(["succeeded", "failed", "cancelled"]);
const BATCH_ENDS = new Set(["completed", "cancelled", "failed"]);

/** One server-sent event block's name, id and parsed data (undefined: a comment, no data). */
function parseEventBlock(block: string): { event: string; id: number; data: unknown } | undefined {
  let event = "message";
  let id: number | undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = Number(value);
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  return { event, id: id ?? 0, data: JSON.parse(data.join("\n")) as unknown };
}

function parseServerSentEvent(block: string): GenerationStreamEvent | undefined {
  const parsed = parseEventBlock(block);
  if (!parsed) return undefined;
  if (parsed.event === "state" || GENERATION_ENDS.has(parsed.event)) {
    withValues(parsed.data as Generation);
  }
  return parsed as GenerationStreamEvent;
}

/** `values` as an empty list where a server before 0.2 sent none. */
function withValues<T extends { values: OutputValue[] }>(carrier: T): T {
  if (carrier && !Array.isArray(carrier.values)) carrier.values = [];
  return carrier;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

const decoder = typeof TextDecoder === "undefined" ? undefined : new TextDecoder();

function decode(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (!decoder) return undefined;
  if (data instanceof ArrayBuffer) return decoder.decode(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return decoder.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (Array.isArray(data)) {
    // ws with binaryType "fragments"
    return data.map((part) => decode(part) ?? "").join("");
  }
  return undefined;
}

function ignore(): void {
  // detached socket
}

function safeClose(socket: WebSocketLike, code?: number, reason?: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // already closed
  }
}

/** A v4 UUID: crypto.randomUUID where there is one (it needs a secure context in browsers). */
export function randomId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function sniffImageType(bytes: Uint8Array): string | undefined {
  const at = (i: number) => bytes[i];
  if (at(0) === 0x89 && at(1) === 0x50 && at(2) === 0x4e && at(3) === 0x47) return "image/png";
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return "image/jpeg";
  if (at(0) === 0x47 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x38) return "image/gif";
  if (
    at(0) === 0x52 && at(1) === 0x49 && at(2) === 0x46 && at(3) === 0x46 &&
    at(8) === 0x57 && at(9) === 0x45 && at(10) === 0x42 && at(11) === 0x50
  ) {
    return "image/webp";
  }
  return undefined;
}

function extensionOf(contentType: string | undefined): string {
  switch (contentType) {
    case "image/png":
      return ".png";
    case "image/jpeg":
      return ".jpg";
    case "image/gif":
      return ".gif";
    case "image/webp":
      return ".webp";
    default:
      return ".bin";
  }
}
