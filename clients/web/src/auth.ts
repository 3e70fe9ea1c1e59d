/**
 * The page's API key: taken from a `#key=…` link (the embedded server prints one at its first start),
 * kept in localStorage, and recognised when the server refuses it. Pure functions: no DOM.
 */
import { TemperaApiError } from "../../typescript/src/index.js";

/** Where the page keeps the key. */
export const KEY_STORAGE = "tempera.apiKey";

/** What the page says when the server wants a key it does not have (or refused the one it has). */
export const KEY_HELP =
  "Paste the API key the server printed at its first start, or create one with ./tempera keys create --project demo";

/** The part of Storage the page uses (localStorage, or a stand-in in tests). */
export type KeyStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/**
 * Takes `key` out of a location hash (`#key=tpk_…`, possibly with other `name=value` pairs):
 * the key (undefined when there is none or it is empty) and the hash without it ("" when
 * nothing is left), for history.replaceState.
 */
export function takeKeyFromFragment(hash: string): { key: string | undefined; hash: string } {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!raw) return { key: undefined, hash: "" };
  const params = new URLSearchParams(raw);
  if (!params.has("key")) return { key: undefined, hash: hash.startsWith("#") ? hash : `#${hash}` };
  const key = params.get("key")?.trim() || undefined;
  params.delete("key");
  const rest = params.toString();
  return { key, hash: rest ? `#${rest}` : "" };
}

/** The stored key, if any (and storage works). */
export function readStoredKey(storage: KeyStorage | undefined): string | undefined {
  try {
    return storage?.getItem(KEY_STORAGE)?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Stores the key; an empty one removes it. False when storage is disabled or full. */
export function storeKey(storage: KeyStorage | undefined, key: string | undefined): boolean {
  if (!storage) return false;
  try {
    const value = key?.trim();
    if (value) storage.setItem(KEY_STORAGE, value);
    else storage.removeItem(KEY_STORAGE);
    return true;
  } catch {
    return false;
  }
}

/** True when the error is the server refusing the key: code UNAUTHENTICATED, or HTTP 401. */
export function isUnauthenticated(error: unknown): error is TemperaApiError {
  return error instanceof TemperaApiError && (error.code === "UNAUTHENTICATED" || error.status === 401);
}

/** The message for a refused or missing key: the server's reason, then what to do. */
export function keyProblem(error: unknown, hasKey: boolean): string {
  const reason = hasKey
    ? `The server refused the API key${error instanceof Error && error.message ? ` (${error.message})` : ""}.`
    : "The server wants an API key.";
  return `${reason} ${KEY_HELP}`;
}

/** "project demo", "operator (every project)": whom a key acts for, for the page to show. */
export function describeIdentity(identity: { projectId: string | null; role: string } | undefined): string {
  if (!identity) return "";
  if (identity.role === "operator" || identity.projectId === null) return "operator key (every project)";
  return `key for project ${identity.projectId}`;
}
