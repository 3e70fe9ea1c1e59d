import { TaskFailedError, TemperaError } from "./errors.js";
import type {
  Generation,
  GenerationEvent,
  GenerationStatus,
  Phase,
  StateEvent,
  TaskFailed,
  TaskProgress,
  TaskSuccess,
  TerminalEvent,
} from "./types.js";

/**
 * One generation being followed. Events arrive over the client's WebSocket; after a reconnect the
 * client resumes from `lastEventId`, so every progress event is delivered once, in order.
 *
 * Iterate it (`for await (const e of handle)`) to get every event from the first one this handle
 * received (also those that arrived before you started iterating), live, until the terminal
 * event (`task_success` or `task_failed`), which is yielded last.
 */
export interface GenerationHandle extends AsyncIterable<GenerationEvent> {
  readonly taskId: string;
  /** The canvas node, once known (from the ack, a state snapshot or the terminal event). */
  readonly nodeId: string | undefined;
  /** The requestId of the `start_generation` that created this handle, if any. */
  readonly requestId: string | undefined;
  /**
   * The last status seen: from the acknowledgement on (a handle of startGeneration), then from
   * snapshots, the phases of progress events and the terminal event. Undefined for a handle of
   * follow() until its first snapshot.
   */
  readonly status: GenerationStatus | undefined;
  /** The newest progress eventId delivered: progress at or below it is never delivered again. */
  readonly lastEventId: number;
  /** True once the terminal event arrived, or the handle was closed or failed. */
  readonly done: boolean;
  /** Called for each `task_progress`. Returns a function that removes the callback. */
  onProgress(callback: (event: TaskProgress) => void): () => void;
  /** Called for each `task_state` snapshot and for the terminal event. Returns an unsubscribe function. */
  onState(callback: (event: StateEvent) => void): () => void;
  /** Called for every event. Returns an unsubscribe function. */
  onEvent(callback: (event: GenerationEvent) => void): () => void;
  /**
   * Resolves with `task_success`; rejects with TaskFailedError on `task_failed` (code `CANCELLED`
   * for a cancellation), with TemperaApiError when following the task failed (e.g. no such task),
   * or with ConnectionError when the client was closed or gave up reconnecting.
   */
  result(): Promise<TaskSuccess>;
  /** Cancels the generation (REST); resolves with its state. Following goes on until the terminal event. */
  cancel(): Promise<Generation>;
  /** Stops following (sends `unsubscribe`); the generation itself goes on. Iterators end, result() rejects. */
  close(): void;
}

/** What a handle needs from its client. */
export interface HandleHost {
  cancelTask(taskId: string): Promise<Generation>;
  unfollow(handle: GenerationHandleImpl): void;
  reportListenerError(error: unknown): void;
}

const MAX_BUFFERED_EVENTS = 10_000;

const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const satisfies readonly GenerationStatus[];

const PHASE_STATUS: Partial<Record<Phase, GenerationStatus>> = {
  RESOLVING: "QUEUED",
  WAITING_FOR_SLOT: "QUEUED",
  STARTING_MODEL: "RUNNING",
  GENERATING: "RUNNING",
  COLLECTING_OUTPUTS: "RUNNING",
};

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The rejection is for whoever calls result(); nobody calling it is not an error.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** @internal */
export class GenerationHandleImpl implements GenerationHandle {
  readonly taskId: string;
  nodeId: string | undefined;
  requestId: string | undefined;
  status: GenerationStatus | undefined;
  lastEventId = 0;
  done = false;
  /** True while the server follows this task on the current socket (ack or subscribe sent). */
  followedOnSocket = false;

  private readonly host: HandleHost;
  private readonly outcome = deferred<TaskSuccess>();
  private readonly progressListeners = new Set<(event: TaskProgress) => void>();
  private readonly stateListeners = new Set<(event: StateEvent) => void>();
  private readonly eventListeners = new Set<(event: GenerationEvent) => void>();
  /** Every event delivered, for iterators; `dropped` counts the oldest ones let go past the cap. */
  private readonly events: GenerationEvent[] = [];
  private dropped = 0;
  private endError: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(host: HandleHost, taskId: string, init?: { nodeId?: string | undefined; requestId?: string | undefined }) {
    this.host = host;
    this.taskId = taskId;
    this.nodeId = init?.nodeId;
    this.requestId = init?.requestId;
  }

  onProgress(callback: (event: TaskProgress) => void): () => void {
    this.progressListeners.add(callback);
    return () => this.progressListeners.delete(callback);
  }

  onState(callback: (event: StateEvent) => void): () => void {
    this.stateListeners.add(callback);
    return () => this.stateListeners.delete(callback);
  }

  onEvent(callback: (event: GenerationEvent) => void): () => void {
    this.eventListeners.add(callback);
    return () => this.eventListeners.delete(callback);
  }

  result(): Promise<TaskSuccess> {
    return this.outcome.promise;
  }

  cancel(): Promise<Generation> {
    return this.host.cancelTask(this.taskId);
  }

  close(): void {
    if (this.done) return;
    this.host.unfollow(this);
    this.end(new TemperaError(`Stopped following generation ${this.taskId}`), false);
  }

  /**
   * The server acknowledged the start with this status (lower case on the wire).
   * @internal
   */
  acknowledged(status: string | undefined): void {
    if (this.status !== undefined || typeof status !== "string") return;
    const upper = status.toUpperCase();
    if ((STATUSES as readonly string[]).includes(upper)) this.status = upper as GenerationStatus;
  }

  /**
   * Takes one server message for this task. Returns false when it was dropped: progress at or
   * below `lastEventId`, or anything after the terminal event.
   * @internal
   */
  deliver(event: GenerationEvent): boolean {
    if (this.done) return false;
    switch (event.type) {
      case "task_progress":
        if (typeof event.eventId === "number") {
          if (event.eventId <= this.lastEventId) return false;
          this.lastEventId = event.eventId;
        }
        this.status = PHASE_STATUS[event.phase] ?? this.status;
        break;
      case "task_state":
        // The server sends only progress newer than the snapshot after it.
        if (typeof event.state?.eventId === "number") {
          this.lastEventId = Math.max(this.lastEventId, event.state.eventId);
        }
        this.status = event.state?.status ?? this.status;
        this.nodeId ??= event.state?.nodeId;
        break;
      case "task_success":
        this.status = "SUCCEEDED";
        break;
      case "task_failed":
        this.status = event.code === "CANCELLED" ? "CANCELLED" : "FAILED";
        break;
    }
    if (event.type === "task_success" || event.type === "task_failed") {
      this.nodeId ??= event.nodeId;
      if (typeof event.eventId === "number") {
        this.lastEventId = Math.max(this.lastEventId, event.eventId);
      }
    }
    this.push(event);
    if (event.type === "task_progress") {
      this.notify(this.progressListeners, event);
    } else {
      this.notify(this.stateListeners, event);
    }
    this.notify(this.eventListeners, event);
    if (event.type === "task_success" || event.type === "task_failed") {
      this.finish(event);
    }
    return true;
  }

  /**
   * Ends the handle without a terminal event: result() rejects with `error`; iterators throw it
   * when `throwInIterators` (following failed), else end quietly (the client was closed).
   * @internal
   */
  fail(error: Error, throwInIterators = true): void {
    this.end(error, throwInIterators);
  }

  [Symbol.asyncIterator](): AsyncIterator<GenerationEvent> {
    let index = this.dropped;
    let stopped = false;
    const next = async (): Promise<IteratorResult<GenerationEvent>> => {
      for (;;) {
        if (stopped) return { done: true, value: undefined };
        if (index < this.dropped) index = this.dropped;
        const event = this.events[index - this.dropped];
        if (event !== undefined) {
          index++;
          return { done: false, value: event };
        }
        if (this.done) {
          stopped = true;
          if (this.endError) throw this.endError;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => this.waiters.add(resolve));
      }
    };
    return {
      next,
      return: async () => {
        stopped = true;
        return { done: true, value: undefined };
      },
    };
  }

  private finish(event: TerminalEvent): void {
    this.done = true;
    if (event.type === "task_success") {
      this.outcome.resolve(event);
    } else {
      this.outcome.reject(new TaskFailedError(event as TaskFailed));
    }
    this.wake();
  }

  /** `throwInIterators`: false ends iterations quietly (the user stopped following). */
  private end(error: Error, throwInIterators: boolean): void {
    if (this.done) return;
    this.done = true;
    if (throwInIterators) this.endError = error;
    this.outcome.reject(error);
    this.wake();
  }

  private push(event: GenerationEvent): void {
    this.events.push(event);
    if (this.events.length > MAX_BUFFERED_EVENTS) {
      this.events.shift();
      this.dropped++;
    }
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private notify<E>(listeners: Set<(event: E) => void>, event: E): void {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.host.reportListenerError(error);
      }
    }
  }
}
