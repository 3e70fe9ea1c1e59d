import type { ApiErrorCode, ErrorAction, GenerationErrorCode, RequestProblem, TaskFailed } from "./types.js";

/** Base class of every error this client throws or rejects with. */
export class TemperaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The server refused a request: a REST call answered 4xx/5xx, or the WebSocket answered an
 * `error` message for a `start_generation` (matched by requestId) or for a followed task. Code
 * `UNAUTHENTICATED` (status 401 over REST): the API key is missing, wrong or revoked; over the
 * WebSocket it rejects every pending start and followed task, and the client does not reconnect
 * by itself.
 */
export class TemperaApiError extends TemperaError {
  /**
   * The HTTP status: the REST answer's, or for a WebSocket `error` the status the REST route answers
   * with for that code (the server sends it; 401 for a refused key). Undefined only for a WebSocket
   * error from a server before 0.2.
   */
  readonly status: number | undefined;
  /**
   * For 429s (`QUOTA_RUNNING`, `QUOTA_QUEUED`, `QUOTA_GPU_TIME`, `QUEUE_FULL`, `TOO_MANY_CONNECTIONS`, …):
   * seconds until trying again is worth it (REST's `Retry-After`, the WebSocket's `retryAfterSeconds`),
   * when the server says.
   */
  readonly retryAfterSeconds: number | undefined;
  /** The server's stable error code, e.g. `UNAUTHENTICATED`, `UNKNOWN_FUNCTION`, `INVALID_PARAMETERS`, `NOT_FOUND`. */
  readonly code: ApiErrorCode;
  /** One entry per problem with the request (e.g. each bad parameter); empty when none. */
  readonly problems: RequestProblem[];
  /** For WebSocket errors: the requestId of the `start_generation` the error answers. */
  readonly requestId: string | undefined;
  /** For WebSocket errors: the nodeId of the `start_generation` the error answers. */
  readonly nodeId: string | undefined;
  /** For WebSocket errors: the task the error is about (e.g. following it failed). */
  readonly taskId: string | undefined;

  constructor(init: {
    code: ApiErrorCode;
    message: string;
    status?: number | undefined;
    retryAfterSeconds?: number | undefined;
    problems?: RequestProblem[] | undefined;
    requestId?: string | undefined;
    nodeId?: string | undefined;
    taskId?: string | undefined;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.problems = (init.problems ?? []).map(withParameter);
    this.requestId = init.requestId;
    this.nodeId = init.nodeId;
    this.taskId = init.taskId;
  }
}

/** A generation ended without success (`task_failed`): failed, or cancelled (code `CANCELLED`). */
export class TaskFailedError extends TemperaError {
  readonly taskId: string;
  /** e.g. `CANCELLED`, `EXECUTION_ERROR`, `TIMEOUT`: see GenerationErrorCode. */
  readonly code: GenerationErrorCode;
  /** What the person could do about it, when the server knows. */
  readonly suggestion: string | null;
  /** A machine-readable hint for the UI (e.g. `RETRY`, `FIX_INPUT`), when the server gives one. */
  readonly action: ErrorAction | null;
  readonly nodeId: string | undefined;
  /** The full `task_failed` message (outputs produced before the failure included). */
  readonly event: TaskFailed;

  constructor(event: TaskFailed) {
    super(event.message || `Generation ${event.taskId} failed (${event.code})`);
    this.taskId = event.taskId;
    this.code = event.code;
    this.suggestion = event.suggestion ?? null;
    this.action = event.action ?? null;
    this.nodeId = event.nodeId;
    this.event = event;
  }

  /** True when the generation was cancelled rather than failed. */
  get cancelled(): boolean {
    return this.code === "CANCELLED";
  }
}

/**
 * The server could not be reached or the connection gave up: a fetch that failed at the network
 * level, no WebSocket implementation, a request that got no answer in time, reconnect attempts
 * exhausted, or the client was closed while a call was pending.
 */
export class ConnectionError extends TemperaError {}

/**
 * A problem with `parameter` set when its field is one of the request's `parameters` or `sweep`: the
 * server sends it; a server before 0.2 did not.
 */
function withParameter(problem: RequestProblem): RequestProblem {
  const field = typeof problem?.field === "string" ? problem.field : "";
  if (problem.parameter !== undefined) return problem;
  const prefix = ["parameters.", "sweep."].find((p) => field.startsWith(p) && field.length > p.length);
  return prefix ? { ...problem, parameter: field.slice(prefix.length) } : problem;
}
