export { TemperaClient, randomId } from "./client.js";
export type { TemperaClientOptions, ReconnectOptions, StartOptions, StartBatchOptions } from "./client.js";
export type { GenerationHandle } from "./handle.js";
export { TemperaError, TemperaApiError, TaskFailedError, ConnectionError } from "./errors.js";
export type * from "./types.js";
