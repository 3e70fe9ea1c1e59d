/**
 * An in-test stand-in for the Tempera API: node:http for REST, the `ws` package for /ws. Tests
 * script its WebSocket side with `onMessage` and its REST side with `route`.
 *
 * Like the server, it demands an API key (TEST_KEY unless started with another, or with null for
 * none): `/api/**` without `Authorization: Bearer <key>` answers 401 UNAUTHENTICATED, and on the
 * WebSocket the first message must be `authenticate` with the key: it answers `authenticated`
 * (`identity`); anything else, or a wrong key, gets `error` UNAUTHENTICATED and a close with 1008.
 * The authenticate messages are kept out of `received` (they are in `log` and `authentications`),
 * so tests see the protocol after it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, WebSocket } from "ws";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The key the fake accepts unless told otherwise. */
export const TEST_KEY = "tpk_AbCdEf012345_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

export interface Connection {
  index: number;
  socket: WebSocket;
  /** The messages after authenticate (all of them when the fake demands no key). */
  received: Json[];
  /** Every message, authenticate included, in arrival order. */
  log: Json[];
  /** True once this connection authenticated with the key. */
  authenticated: boolean;
  /** The upgrade request's headers. */
  upgradeHeaders: IncomingMessage["headers"];
  /** The close code the client sent, once it closed. */
  closeCode?: number;
  send(message: Json): void;
}

export interface RecordedRequest {
  method: string;
  /** The path, without the query. */
  url: string;
  /** The query string with its `?` (empty without one). */
  search: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type RouteHandler = (
  req: RecordedRequest,
  res: ServerResponse,
) => void | { status: number; json?: Json; text?: string; body?: Buffer; contentType?: string };

export class FakeServer {
  readonly connections: Connection[] = [];
  /** Every client message, in arrival order, with the connection it came on. */
  readonly received: { connection: number; message: Json }[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Every authenticate message, the refused ones included, with the connection it came on. */
  readonly authentications: { connection: number; key: unknown; accepted: boolean }[] = [];
  /** What `authenticated` says. */
  identity: { projectId: string | null; role: string } = { projectId: "p1", role: "project" };
  onMessage: (message: Json, connection: Connection) => void = () => undefined;
  private readonly routes = new Map<string, RouteHandler>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    /** The key it demands; null: none. */
    readonly apiKey: string | null,
  ) {}

  static async start(options: { apiKey?: string | null } = {}): Promise<FakeServer> {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: "/ws" });
    const server = new FakeServer(http, wss, options.apiKey === undefined ? TEST_KEY : options.apiKey);
    http.on("request", (req, res) => server.handleHttp(req, res));
    wss.on("connection", (socket, req) => server.handleSocket(socket, req));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Answers `METHOD /path` (exact path, query ignored). */
  route(method: string, path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Cuts every open socket without a closing handshake, as a network failure would. */
  dropAll(): void {
    for (const connection of this.connections) {
      if (connection.socket.readyState === WebSocket.OPEN) connection.socket.terminate();
    }
  }

  /** Resolves with the first message (any connection) matching `predicate`, waiting for it if needed. */
  async waitForMessage(
    predicate: (message: Json, connection: number) => boolean,
    timeoutMs = 3000,
  ): Promise<{ connection: number; message: Json }> {
    const found = await this.waitFor(() => this.received.find((r) => predicate(r.message, r.connection)), timeoutMs);
    return found;
  }

  /** Waits until `probe` returns something other than undefined/false. */
  async waitFor<T>(probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting in the fake server");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  private handleSocket(socket: WebSocket, req: IncomingMessage): void {
    const connection: Connection = {
      index: this.connections.length,
      socket,
      received: [],
      log: [],
      authenticated: this.apiKey === null,
      upgradeHeaders: req.headers,
      send: (message) => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      },
    };
    this.connections.push(connection);
    socket.on("close", (code) => {
      connection.closeCode = code;
      this.wake();
    });
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      let message: Json;
      try {
        message = JSON.parse(text);
      } catch {
        connection.send({ type: "error", code: "INVALID_JSON", message: "not JSON" });
        return;
      }
      connection.log.push(message);
      if (this.apiKey !== null && (!connection.authenticated || message?.type === "authenticate")) {
        const accepted = message?.type === "authenticate" && message.key === this.apiKey && !connection.authenticated;
        if (message?.type === "authenticate") this.authentications.push({ connection: connection.index, key: message.key, accepted });
        if (accepted) {
          connection.authenticated = true;
          connection.send({ type: "authenticated", ...this.identity });
        } else {
          connection.send({
            type: "error",
            code: "UNAUTHENTICATED",
            message: message?.type === "authenticate" ? "The API key is not valid" : "Send authenticate with an API key first",
          });
          socket.close(1008, "unauthenticated");
        }
        this.wake();
        return;
      }
      connection.received.push(message);
      this.received.push({ connection: connection.index, message });
      if (message.type === "ping") connection.send({ type: "pong" });
      this.onMessage(message, connection);
      this.wake();
    });
    this.wake();
  }

  private handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        url: url.pathname,
        search: url.search,
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      this.requests.push(recorded);
      this.wake();
      if (this.apiKey !== null && url.pathname.startsWith("/api/") && req.headers.authorization !== `Bearer ${this.apiKey}`) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "UNAUTHENTICATED", message: "A valid API key is required", problems: [] }));
        return;
      }
      const handler = this.routes.get(`${recorded.method} ${url.pathname}`);
      if (!handler) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "NOT_FOUND", message: `no route ${recorded.method} ${url.pathname}` }));
        return;
      }
      const answer = handler(recorded, res);
      if (!answer) return;
      if (answer.json !== undefined) {
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.json));
      } else if (answer.body !== undefined) {
        res.writeHead(answer.status, { "content-type": answer.contentType ?? "application/octet-stream" });
        res.end(answer.body);
      } else {
        res.writeHead(answer.status, { "content-type": answer.contentType ?? "text/plain" });
        res.end(answer.text ?? "");
      }
    });
  }
}

/** Protocol message builders. */
export const msg = {
  ack: (taskId: string, start: Json) => ({
    type: "task_acknowledged",
    taskId,
    nodeId: start.nodeId,
    requestId: start.requestId,
    status: "queued",
  }),
  state: (taskId: string, eventId: number, status = "RUNNING", extra: Json = {}) => ({
    type: "task_state",
    taskId,
    state: generation(taskId, { status, eventId, ...extra }),
  }),
  progress: (taskId: string, eventId: number, progress: number) => ({
    type: "task_progress",
    taskId,
    eventId,
    phase: "GENERATING",
    progress,
    message: `step ${eventId}`,
    step: eventId,
    totalSteps: 10,
    timestamp: 1_700_000_000_000 + eventId,
  }),
  success: (taskId: string, eventId: number, extra: Json = {}) => ({
    type: "task_success",
    taskId,
    nodeId: "n1",
    eventId,
    outputs: [
      {
        name: `${taskId}_out.png`,
        url: `/api/generations/${taskId}/outputs/${taskId}_out.png`,
        contentType: "image/png",
        sizeBytes: 123,
        width: 4,
        height: 4,
      },
    ],
    tierUsed: "standard",
    warnings: [],
    ...extra,
  }),
  failed: (taskId: string, eventId: number, code = "BACKEND_ERROR") => ({
    type: "task_failed",
    taskId,
    nodeId: "n1",
    eventId,
    code,
    message: "The backend could not run the graph",
    suggestion: "Check the input image",
    action: "retry",
    outputs: [],
  }),
};

export function generation(id: string, overrides: Json = {}): Json {
  return {
    id,
    status: "RUNNING",
    phase: "GENERATING",
    progress: 0.5,
    message: "Generating",
    functionId: "invert",
    functionVersion: "1.0.0",
    projectId: "p1",
    nodeId: "n1",
    tierRequested: "standard",
    tierUsed: "standard",
    warnings: [],
    outputs: [],
    eventId: 0,
    ...overrides,
  };
}
