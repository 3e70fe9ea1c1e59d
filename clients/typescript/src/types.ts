/**
 * Wire types of the Tempera API (REST and the canvas WebSocket). The literal unions (statuses,
 * phases, tiers, priorities, actions, error codes) come from src/generated/, which is made from the
 * server's own schemas (its OpenAPI document at /v3/api-docs and the canvas WebSocket's JSON Schema)
 * by `npm run generate`; `npm run check:schema` fails when they drift from a running server.
 */
import type { components } from "./generated/openapi.js";
import type * as Ws from "./generated/canvas-websocket.js";

type Schemas = components["schemas"];

/** Quality tiers, as the server reports them (`tierUsed`, `FunctionInfo.tiers`). */
export type Tier = NonNullable<Schemas["Generation"]["tierUsed"]>;

/**
 * A tier a request may name: one of {@link Tier}; the server accepts other strings too (it runs them
 * at `standard` with a warning), hence the open end.
 */
export type RequestedTier = Tier | (string & {});

/** Scheduling priorities, highest first; a request without one gets its tier's default. */
export type Priority = NonNullable<Schemas["StartGeneration"]["priority"]>;

export type GenerationStatus = NonNullable<Schemas["Generation"]["status"]>;

/** Business phases, e.g. `RESOLVING`, `WAITING_FOR_SLOT`, `GENERATING`, `COLLECTING_OUTPUTS`. */
export type Phase = NonNullable<Schemas["Generation"]["phase"]>;

/** `task_acknowledged.status`: the generation's status in lower case. */
export type AcknowledgedStatus = Ws.AckStatus;

/**
 * One problem with a request, e.g. a parameter out of range. `field` is the JSON path of the field in
 * the request body (or WebSocket message) as sent: `functionId`, `webhook.url`, `parameters.steps`,
 * `sweep.seed`; never a name of the server's code. For a parameter's problem `parameter` is its bare
 * name (`steps`), as a form shows it: the server sends it on REST and the WebSocket (this client
 * also fills it in from `field` for a server before 0.2).
 */
export interface RequestProblem {
  field: string;
  /** The parameter's bare name when `field` is under `parameters` or `sweep`; absent otherwise. */
  parameter?: string;
  code: string;
  message: string;
}

/**
 * `GET /api/system`: which Temporal the system runs on, and whether running generations survive a
 * restart (`durable`: false on the in-process test server, where they are lost).
 */
export type SystemInfo = Schemas["SystemInfo"];

/**
 * The codes of refused requests (REST error bodies, WebSocket `error` messages), from the server's
 * ApiErrorCode: `UNAUTHENTICATED` for a missing, wrong or revoked API key (HTTP 401), `NOT_FOUND`
 * (also for another project's generation or upload), `UNKNOWN_PROJECT` (a project key naming
 * another project), `QUOTA_RUNNING` and the other 429s, and more. Open-ended on purpose: a newer
 * server may add codes, and a REST answer that is not the API's JSON (e.g. a proxy's 502) gets
 * `HTTP_<status>`.
 */
export type ApiErrorCode = NonNullable<Schemas["Error"]["code"]> | (string & {});

/** A machine-readable hint of what to do about a failed generation. */
export type ErrorAction = NonNullable<Schemas["Failure"]["action"]>;

/** The JSON body of every REST error. */
export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  problems?: RequestProblem[];
}

/** JSON Schema of one function parameter. Image parameters are `{type: "string", format: "project-file"}`. */
export interface ParameterSchemaProperty {
  type: "string" | "integer" | "number" | "boolean" | (string & {});
  default?: unknown;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  description?: string;
  format?: "project-file" | (string & {});
  contentMediaType?: string;
  [extra: string]: unknown;
}

export interface ParameterSchema {
  type: "object";
  properties: Record<string, ParameterSchemaProperty>;
  required: string[];
  additionalProperties: boolean;
}

/** A function the canvas can offer (`GET /api/functions`). */
export interface FunctionInfo {
  id: string;
  version: string;
  displayName: string;
  category: string;
  icon: string;
  description: string;
  backend: string;
  tiers: Tier[];
  parameterSchema: ParameterSchema;
  /** What each tier means for the pipeline, where the template says. */
  tierDetails: Partial<Record<Tier, TierDetails>>;
}

/** A tier's pipeline configuration (every field optional). */
export interface TierDetails {
  steps?: number | null;
  resolution?: number | null;
  sampler?: string | null;
  vramMb?: number | null;
  optimizations?: string[];
  maxConcurrent?: number | null;
  timeoutSeconds?: number | null;
}

/**
 * A file a generation produced. `url` is relative to the client's baseUrl and signed
 * (`?expires=…&signature=…`): it works without the API key, e.g. as an `<img src>`, until it expires.
 */
export interface Output {
  name: string;
  url: string;
  contentType: string;
  sizeBytes: number;
  width?: number;
  height?: number;
}

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What kind of non-file value a generation returned. */
export type OutputValueKind = NonNullable<Schemas["Value"]["kind"]>;

/**
 * A value a generation returned that is not a file (e.g. a Gradio endpoint's text, number, JSON,
 * label or highlighted text), in the backend's order. `value` is the JSON as the backend gave it:
 * a string for `text`, a number for `number`, a boolean for `boolean`; for `label` Gradio's
 * `{label, confidences: [{label, confidence}]}`, for `highlighted_text` its list of
 * `{token, class_or_confidence}`; anything for `json`.
 */
export interface OutputValue {
  /** The template's name for the output, else the backend's label for it, else `output_<position>`. */
  name: string;
  kind: OutputValueKind;
  value: JsonValue;
}

/**
 * The codes a generation fails with (`task_failed.code`, `Generation.error.code`), from the server's
 * ErrorCode. Open-ended on purpose: new failure causes get new codes (handle unknown ones as failures).
 */
export type GenerationErrorCode = NonNullable<Schemas["Failure"]["code"]> | (string & {});

export interface GenerationFailure {
  code: GenerationErrorCode;
  message: string;
  suggestion?: string | null;
  action?: ErrorAction | null;
  retryable: boolean;
}

/** A generation's state (`GET /api/generations/{id}`, and `task_state.state`). */
export interface Generation {
  id: string;
  status: GenerationStatus;
  phase: Phase;
  /** 0..1 */
  progress: number;
  message: string;
  step?: number;
  totalSteps?: number;
  queuePosition?: number;
  /** Estimated seconds left until the result (the backend's own estimate, else the speed so far); never goes up. */
  etaSeconds?: number;
  /** While the run waits in the backend's own queue: the estimated seconds until it starts (part of etaSeconds). */
  startsInSeconds?: number;
  /** While it waits: for what, its place and the estimated seconds until the wait ends. */
  waiting?: Waiting;
  /** Relative, signed URL of the latest preview image, while the backend sends previews (works without the key). */
  previewUrl?: string;
  functionId: string;
  functionVersion: string;
  projectId: string;
  nodeId: string;
  tierRequested: RequestedTier;
  tierUsed: Tier;
  warnings: string[];
  outputs: Output[];
  /** What it returned that is not a file (text, numbers, JSON, …); empty for most image functions. */
  values: OutputValue[];
  error?: GenerationFailure;
  /** Steps down the tier chain, e.g. high → standard after running out of GPU memory. */
  fallbacks: Fallback[];
  /** The template's A/B variant this generation got, when the function runs an A/B test. */
  variant?: string;
  /** How long starting the model's own container took in ms (0: a running one was reused); absent without one. */
  modelColdStartMillis?: number;
  /**
   * The parameters it runs with, a seed the server drew included (a function's random parameter left
   * out of the request): send them again to reproduce the result. Absent when not known.
   */
  parameters?: Record<string, unknown>;
  /**
   * Its image parameters whose value is one of the project's uploads, each with a signed URL that reads
   * the upload back without a key (fresh on every read of the generation). Absent when there is none.
   */
  inputs?: UploadedInput[];
  eventId: number;
  /** Its webhook's delivery, when it names one (`GET /api/generations/{id}` only). */
  webhook?: WebhookDelivery;
}

/** A generation's webhook delivery: every attempt, and what comes next. */
export interface WebhookDelivery {
  url: string;
  /** The id every attempt carries in `Tempera-Event-Id`. */
  eventId: string;
  status: NonNullable<Schemas["WebhookView"]["status"]>;
  attempts: {
    number: number;
    at: string;
    /** Absent when no answer came (unreachable, timed out, refused address). */
    httpStatus?: number;
    error?: string;
    durationMillis: number;
  }[];
  /** While RETRYING. */
  nextAttemptAt?: string;
  /** Why it FAILED. */
  reason?: string;
}

/** A step down the tier chain, or (with `fromModel`/`toModel`) a model that failed to load replaced by its fallback, and why. */
export interface Fallback {
  fromTier: Tier;
  toTier: Tier;
  reason: string;
  fromModel?: string;
  toModel?: string;
}

/** What `startGeneration` sends. */
export interface StartGenerationRequest {
  /** The function to run, e.g. `invert`. */
  functionId: string;
  /** Pin a version of the function; default: the newest. */
  functionVersion?: string;
  tier?: RequestedTier;
  /**
   * Where it waits in the queue; default: its tier's (`draft` interactive, `standard`/`high`
   * normal, `ultra` low). `urgent` needs an operator key or a project allowed it (else
   * `PRIORITY_NOT_ALLOWED`).
   */
  priority?: Priority;
  /**
   * The parameter values. A random parameter (e.g. `seed`) left out gets a value the server draws;
   * the generation's `parameters` (GET /api/generations/{id}) say which, to reproduce it.
   */
  parameters?: Record<string, unknown>;
  /**
   * The project to run in. With a project API key it may be omitted (the key's project is used)
   * or must be the key's project (else `UNKNOWN_PROJECT`); an operator key must name it.
   */
  projectId?: string;
  nodeId: string;
  /**
   * Idempotency key: the server starts one generation per requestId. Generated with
   * `crypto.randomUUID()` when omitted; pass your own to make your retries safe too.
   */
  requestId?: string;
  /**
   * Where the generation's end is POSTed, signed with the project's webhook secret; the host must
   * be on the project's allow-list (else `422 WEBHOOK_NOT_ALLOWED`). See the README's Webhooks.
   */
  webhook?: { url: string };
}

/** `POST /api/projects/{projectId}/uploads` answer; `path` is what an image parameter takes. */
export interface UploadResult {
  path: string;
  /**
   * Reads the upload back (`GET /api/projects/{projectId}/uploads/{name}`): relative, signed, works
   * without a key until it expires (an hour or more); `downloadUpload(projectId, path)` reads it with the key.
   */
  url: string;
  contentType: string;
  sizeBytes: number;
}

/** An image parameter of a generation whose value is one of its project's uploads (`Generation.inputs`). */
export interface UploadedInput {
  /** The parameter's name, e.g. `image`. */
  parameter: string;
  /** Its value, e.g. `uploads/3f…a1.png`. */
  path: string;
  /** Relative, signed URL that reads the upload back without a key (404 `NOT_FOUND` once deleted). */
  url: string;
}

/** `POST /api/generations` answer. */
export interface Accepted {
  id: string;
  status: GenerationStatus;
}

// ---- WebSocket messages: server → client ----

export interface TaskAcknowledged {
  type: "task_acknowledged";
  taskId: string;
  nodeId: string;
  requestId?: string;
  /** lower case, e.g. `queued` */
  status: AcknowledgedStatus;
}

/**
 * `start_batch` was accepted (or found again by its requestId): the batch's id, its status in lower
 * case and its size. The socket sends no batch progress: read it with `client.batch(batchId)`.
 */
export type BatchAcknowledged = Ws.BatchAcknowledgedMessage;

/** The state when following began (first message for a task after subscribe/ack). */
export interface TaskState {
  type: "task_state";
  taskId: string;
  state: Generation;
}

/** A live update. `eventId` increases per task. */
export interface TaskProgress {
  type: "task_progress";
  taskId: string;
  eventId: number;
  phase: Phase;
  /** 0..1 */
  progress: number;
  message: string;
  step?: number;
  totalSteps?: number;
  queuePosition?: number;
  etaSeconds?: number;
  /** While the run waits in the backend's own queue: the estimated seconds until it starts. */
  startsInSeconds?: number;
  /** While it waits: for what, its place and the estimated seconds until the wait ends. */
  waiting?: Waiting;
  previewUrl?: string;
  timestamp: number;
}

/**
 * What a queued generation waits for: `slot`, a GPU slot of its pool (its place in the slot allocator's line, in
 * the order the allocator serves it, and the allocator's estimate from the lease times it measured), or `backend`,
 * its run in the backend's own queue (ComfyUI's or Gradio's place and estimate).
 */
export interface Waiting {
  for: NonNullable<Schemas["Waiting"]["for"]>;
  /** 1 = next. */
  position?: number;
  /** Estimated seconds until the wait ends (absent until the allocator measured a lease or the backend estimates). */
  startsInSeconds?: number;
}

export interface TaskSuccess {
  type: "task_success";
  taskId: string;
  nodeId: string;
  eventId: number;
  outputs: Output[];
  /** What it returned that is not a file (text, numbers, JSON, …), next to `outputs`. */
  values: OutputValue[];
  tierUsed: Tier;
  fallbacks: Fallback[];
  variant?: string;
  warnings: string[];
}

/** The generation failed, or was cancelled (`code: "CANCELLED"`). */
export interface TaskFailed {
  type: "task_failed";
  taskId: string;
  nodeId: string;
  eventId: number;
  code: GenerationErrorCode;
  message: string;
  suggestion: string | null;
  action: ErrorAction | null;
  outputs: Output[];
  /** Always empty today: a failed generation keeps files it produced, not values. */
  values: OutputValue[];
}

/** The answer to `authenticate`: whom the key acts for. */
export interface Authenticated {
  type: "authenticated";
  /** The key's project; null for an operator key (which acts for every project). */
  projectId: string | null;
  role: ApiKeyRole;
}

/** A project key acts in its own project; an operator key in every project. */
export type ApiKeyRole = Ws.Role;

/** Whom the client's API key acts for, as the server said in `authenticated`. */
export interface Identity {
  /** The key's project; null for an operator key. */
  projectId: string | null;
  role: ApiKeyRole;
}

/**
 * A refusal. `code: "UNAUTHENTICATED"` (a missing or wrong key, or a message before
 * `authenticate`) is followed by the server closing the socket with code 1008.
 */
export interface ServerErrorMessage {
  type: "error";
  code: ApiErrorCode;
  /** The HTTP status the REST route answers with for this code (servers before 0.2 send none). */
  status?: number;
  /** 429s: seconds until trying again is worth it, when the server knows. */
  retryAfterSeconds?: number;
  message: string;
  problems?: RequestProblem[];
  nodeId?: string;
  requestId?: string;
  taskId?: string;
  /** The batch a refused `subscribe_batch` named. */
  batchId?: string;
}

/** A followed batch's counts moved (`subscribe_batch`; `client.batchEvents(id, {transport: "websocket"})`). */
export type BatchProgressMessage = Ws.BatchProgressMessage;

/** A followed batch ended: the last message about it. */
export type BatchEndedMessage = Ws.BatchEndedMessage;

export interface Pong {
  type: "pong";
}

export type ServerMessage =
  | TaskAcknowledged
  | BatchAcknowledged
  | TaskState
  | TaskProgress
  | TaskSuccess
  | TaskFailed
  | BatchProgressMessage
  | BatchEndedMessage
  | ServerErrorMessage
  | Authenticated
  | Pong;

/** A `phase` or `progress` server-sent event's data (`GET /api/generations/{id}/events`). */
export interface StreamProgress {
  /** The generation's id. */
  id: string;
  phase: Phase;
  /** 0..1 */
  progress: number;
  message: string;
  step?: number;
  totalSteps?: number;
  queuePosition?: number;
  etaSeconds?: number;
  startsInSeconds?: number;
  previewUrl?: string;
  timestamp: number;
}

/**
 * One server-sent event of a generation (`client.events(id)`): `id` increases per generation; pass
 * the last one seen as `lastEventId` to resume.
 */
export type GenerationStreamEvent =
  | { event: "state"; id: number; data: Generation }
  | { event: "phase" | "progress"; id: number; data: StreamProgress }
  | { event: "succeeded" | "failed" | "cancelled"; id: number; data: Generation };

/** What a GenerationHandle delivers: state snapshots, progress, and exactly one terminal event. */
export type GenerationEvent = TaskState | TaskProgress | TaskSuccess | TaskFailed;

/** The non-progress events: snapshots and the terminal event. */
export type StateEvent = TaskState | TaskSuccess | TaskFailed;

export type TerminalEvent = TaskSuccess | TaskFailed;

// ---- WebSocket messages: client → server ----

/**
 * The first message on every connection (browsers cannot send an Authorization header with the
 * upgrade request). The server answers `authenticated`, or `error` UNAUTHENTICATED and closes.
 */
export interface AuthenticateMessage {
  type: "authenticate";
  key: string;
}

export interface StartGenerationMessage {
  type: "start_generation";
  functionId: string;
  functionVersion?: string;
  tier?: RequestedTier;
  priority?: Priority;
  parameters: Record<string, unknown>;
  /** Omitted: the key's project. */
  projectId?: string;
  nodeId: string;
  requestId: string;
  webhook?: { url: string };
}

/** Starts a batch over the WebSocket (the body of `POST /api/batches`); answered by `batch_acknowledged` or `error`. */
export interface StartBatchMessage extends Omit<StartGenerationMessage, "type"> {
  type: "start_batch";
  count?: number;
  sweep?: Record<string, unknown[]>;
}

export interface SubscribeMessage {
  type: "subscribe";
  taskIds: string[];
  lastEventIds?: Record<string, number>;
}

export interface UnsubscribeMessage {
  type: "unsubscribe";
  taskIds: string[];
}

export interface CancelGenerationMessage {
  type: "cancel_generation";
  taskId: string;
}

export interface PingMessage {
  type: "ping";
}

export type ClientMessage =
  | AuthenticateMessage
  | StartGenerationMessage
  | StartBatchMessage
  | SubscribeMessage
  | Ws.SubscribeBatchMessage
  | UnsubscribeMessage
  | CancelGenerationMessage
  | PingMessage;

// ---- Pluggable WebSocket ----

/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket`, Node 22+'s global
 * one, and the `ws` package all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((event: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The client's connection, as a UI might show it. */
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

// ---- Batches (`/api/batches`) and the history list (`GET /api/generations`) ----

/**
 * `{[K]: T[K]}` with every field present: the server's records always carry the fields the generated
 * schema marks optional (springdoc marks every record field optional), except those named in `Opt`.
 */
type Present<T, Opt extends keyof T = never> = { [K in Exclude<keyof T, Opt>]-?: Exclude<T[K], undefined> } & {
  [K in Opt]?: Exclude<T[K], undefined>;
};

/**
 * A batch's status: `RUNNING`, then `COMPLETED` (every variation ended, whatever each came to) or
 * `CANCELLED` (cancel-all); `FAILED` only when its workflow was stopped otherwise. The WebSocket's
 * `batch_acknowledged` carries it in lower case.
 */
export type BatchStatus = Uppercase<Ws.BatchAckStatus> | "FAILED";

/** A variation's status: `WAITING` (not started yet), then its generation's. */
export type BatchItemStatus = "WAITING" | GenerationStatus;

/** What `startBatch` sends: a generation's fields plus `count` and/or `sweep`. */
export interface StartBatchRequest extends StartGenerationRequest {
  /**
   * Variations with new seeds (of each sweep combination): needs a function with a random parameter
   * (e.g. `seed`) left out of `parameters`, else `422 BATCH_NOTHING_VARIES`.
   */
  count?: number;
  /** `{parameter: [values…]}`: the batch runs the cartesian product of these values. */
  sweep?: Record<string, unknown[]>;
  /**
   * Idempotency key (at most 90 characters): the server starts one batch per requestId, with the id
   * `batch-{project tag}-{requestId}`. Generated with `crypto.randomUUID()` when omitted.
   */
  requestId?: string;
  /** Where the batch's end (`batch.completed` / `batch.cancelled`) is POSTed; its generations post none. */
  webhook?: { url: string };
}

/** `POST /api/batches`'s answer (and `batch_acknowledged`'s, over the WebSocket). */
export interface BatchAccepted extends Present<Schemas["BatchAccepted"]> {
  status: BatchStatus;
}

/** How many of a batch's variations are where (`waiting`: not started yet; `queued`: started, waiting for a GPU). */
export type BatchProgress = Present<Schemas["BatchProgress"]>;

/** A file a variation produced; `url` is relative to baseUrl and signed (see {@link Output}). */
export type BatchOutput = Present<Schemas["BatchOutput"]>;

export type BatchError = Present<Schemas["BatchError"]> & { code: GenerationErrorCode };

/** One variation of a batch. */
export interface BatchItem extends Present<Schemas["BatchItem"], "outputs" | "error"> {
  status: BatchItemStatus;
  /** What it sets over the batch's parameters: its sweep values and the seed drawn for it. */
  parameters: Record<string, unknown>;
  /** Once it succeeded (or failed with some files). */
  outputs?: BatchOutput[];
  /** Once it failed or was cancelled. */
  error?: BatchError;
}

/** A page of a batch's variations, by index. */
export interface BatchPage extends Present<Schemas["BatchPage"]> {
  items: BatchItem[];
}

/** Why a batch's next generation waits to start (a project quota), and until when. */
export type BatchQuotaWait = Present<Schemas["BatchQuotaWait"], "until">;

/** A batch's state (`GET /api/batches/{id}`), with one page of its variations. */
export interface Batch
  extends Present<Schemas["Batch"], "functionVersion" | "sweep" | "quotaWait" | "webhook" | "tier" | "priority"> {
  status: BatchStatus;
  tier?: RequestedTier;
  priority?: Priority;
  progress: BatchProgress;
  quotaWait?: BatchQuotaWait;
  results: BatchPage;
  sweep?: Record<string, unknown[]>;
  /** Its webhook's delivery, when it names one. */
  webhook?: WebhookDelivery;
}

/** Which variations `client.batch(id, …)` reads: `offset` (default 0) and `limit` (default 100, at most 500). */
export interface BatchPageRequest {
  offset?: number;
  limit?: number;
}

/** A batch's counts as its list and its progress events give them (no question to its generations). */
export type BatchCounts = Present<Schemas["BatchCounts"]>;

/** One batch in the project's list (`client.listBatches(…)`). */
export interface BatchSummary extends Present<Schemas["BatchSummary"], "total" | "progress" | "endedAt" | "nodeId" | "functionId"> {
  status: BatchStatus;
  /** Absent (as `progress`) when its state could not be read at the time. */
  total?: number;
  progress?: BatchCounts;
  /** ISO-8601 (UTC). */
  createdAt: string;
  /** ISO-8601 (UTC), once it ended. */
  endedAt?: string;
}

/** A page of the project's batches, newest first; `nextCursor` is absent on the last page. */
export interface BatchList {
  items: BatchSummary[];
  nextCursor?: string;
}

/** The filters of `client.listBatches(…)` (`GET /api/batches`); each optional. */
export interface ListBatchesQuery {
  /** `RUNNING`, `COMPLETED`, `CANCELLED` or `FAILED` (any case); another is `400 INVALID_STATUS`. */
  status?: BatchStatus | (string & {});
  /** The `nextCursor` of the page before (with the same status, else `400 INVALID_CURSOR`). */
  cursor?: string;
  /** Batches per page: default 20, at most 100. */
  limit?: number;
}

/** A batch's progress as its events carry it. */
export interface BatchProgressEvent extends Present<Schemas["BatchEvent"], "quotaWait"> {
  status: BatchStatus;
  progress: BatchCounts;
  quotaWait?: BatchQuotaWait;
}

/**
 * One server-sent event of a batch (`client.batchEvents(id)`): `progress` while it runs, then one of
 * `completed`, `cancelled`, `failed`. `id` increases as the batch moves (variations started + ended,
 * + 1 at its end); pass the last one seen as `lastEventId` to resume.
 */
export type BatchStreamEvent =
  | { event: "progress"; id: number; data: BatchProgressEvent }
  | { event: "completed" | "cancelled" | "failed"; id: number; data: BatchProgressEvent };

/** The filters of `client.listGenerations(…)` (`GET /api/generations`); each optional. */
export interface ListGenerationsQuery {
  /** An operator key's project to list (a project key lists its own). */
  project?: string;
  /** e.g. `SUCCEEDED`; an unknown one is `400 INVALID_STATUS`. */
  status?: GenerationStatus | (string & {});
  /** A function id. */
  function?: string;
  /** A canvas node id. */
  node?: string;
  /** Only those started at or after: a Date, an instant (`2026-01-31T12:00:00Z`) or a day (`2026-01-31`). */
  since?: Date | string;
  /** The `nextCursor` of the page before (with the same filters, else `400 INVALID_CURSOR`). */
  cursor?: string;
  /** Items per page: default 20, at most 100. */
  limit?: number;
}

/** One generation in a project's history. */
export interface GenerationListItem
  extends Present<Omit<Schemas["Item"], "error" | "outputs">, "endedAt" | "tier" | "startedAt"> {
  status: GenerationStatus;
  tier?: Tier;
  /** ISO-8601 (UTC). */
  startedAt?: string;
  /** ISO-8601 (UTC), once it ended. */
  endedAt?: string;
  /** An ended generation's outputs still stored. */
  outputs?: Output[];
  error?: GenerationFailure;
}

/** A page of the history, newest first; `nextCursor` is absent on the last page. */
export interface GenerationList {
  items: GenerationListItem[];
  nextCursor?: string;
}
