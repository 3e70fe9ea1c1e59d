import { describe, expect, it } from "vitest";
import { ConnectionError, TemperaApiError } from "../../typescript/src/index.js";
import {
  KEY_HELP,
  KEY_STORAGE,
  describeIdentity,
  isUnauthenticated,
  keyProblem,
  readStoredKey,
  storeKey,
  takeKeyFromFragment,
  type KeyStorage,
} from "../src/auth.js";

const KEY = "tpk_AbCdEf012345_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_0123456";

function memoryStorage(): KeyStorage & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  };
}

describe("the key in the address", () => {
  it("takes #key=… and leaves nothing behind", () => {
    expect(takeKeyFromFragment(`#key=${KEY}`)).toEqual({ key: KEY, hash: "" });
  });

  it("keeps base64url characters as they are, and decodes a percent-encoded key", () => {
    expect(takeKeyFromFragment(`#key=${encodeURIComponent(KEY)}`).key).toBe(KEY);
    expect(takeKeyFromFragment("#key=tpk_a_b-c_d").key).toBe("tpk_a_b-c_d");
  });

  it("keeps the other parts of the fragment", () => {
    expect(takeKeyFromFragment(`#function=invert&key=${KEY}&x=1`)).toEqual({ key: KEY, hash: "#function=invert&x=1" });
  });

  it("leaves a fragment without a key alone", () => {
    expect(takeKeyFromFragment("")).toEqual({ key: undefined, hash: "" });
    expect(takeKeyFromFragment("#")).toEqual({ key: undefined, hash: "" });
    expect(takeKeyFromFragment("#runs")).toEqual({ key: undefined, hash: "#runs" });
  });

  it("an empty key is no key, but is still taken out", () => {
    expect(takeKeyFromFragment("#key=")).toEqual({ key: undefined, hash: "" });
    expect(takeKeyFromFragment("#key=%20%20")).toEqual({ key: undefined, hash: "" });
  });
});

describe("the stored key", () => {
  it("stores, reads and removes it under tempera.apiKey", () => {
    const storage = memoryStorage();
    expect(readStoredKey(storage)).toBeUndefined();
    expect(storeKey(storage, ` ${KEY} `)).toBe(true);
    expect(storage.items.get(KEY_STORAGE)).toBe(KEY);
    expect(readStoredKey(storage)).toBe(KEY);
    expect(storeKey(storage, "")).toBe(true);
    expect(storage.items.has(KEY_STORAGE)).toBe(false);
    expect(readStoredKey(storage)).toBeUndefined();
  });

  it("works without storage, or with one that throws", () => {
    const broken: KeyStorage = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => undefined,
    };
    expect(readStoredKey(undefined)).toBeUndefined();
    expect(storeKey(undefined, KEY)).toBe(false);
    expect(readStoredKey(broken)).toBeUndefined();
    expect(storeKey(broken, KEY)).toBe(false);
  });
});

describe("a refused key", () => {
  it("is a TemperaApiError UNAUTHENTICATED, over REST (401) or the WebSocket", () => {
    expect(isUnauthenticated(new TemperaApiError({ status: 401, code: "UNAUTHENTICATED", message: "no" }))).toBe(true);
    expect(isUnauthenticated(new TemperaApiError({ code: "UNAUTHENTICATED", message: "no" }))).toBe(true);
    expect(isUnauthenticated(new TemperaApiError({ status: 401, code: "HTTP_401", message: "no" }))).toBe(true);
    expect(isUnauthenticated(new TemperaApiError({ status: 404, code: "NOT_FOUND", message: "no" }))).toBe(false);
    expect(isUnauthenticated(new ConnectionError("down"))).toBe(false);
    expect(isUnauthenticated("UNAUTHENTICATED")).toBe(false);
  });

  it("asks for a key, saying where to get one", () => {
    expect(KEY_HELP).toBe(
      "Paste the API key the server printed at its first start, or create one with ./tempera keys create --project demo",
    );
    expect(keyProblem(new TemperaApiError({ status: 401, code: "UNAUTHENTICATED", message: "A valid API key is required" }), false)).toBe(
      `The server wants an API key. ${KEY_HELP}`,
    );
    expect(keyProblem(new TemperaApiError({ code: "UNAUTHENTICATED", message: "The API key is not valid" }), true)).toBe(
      `The server refused the API key (The API key is not valid). ${KEY_HELP}`,
    );
  });

  it("says whom an accepted key acts for", () => {
    expect(describeIdentity(undefined)).toBe("");
    expect(describeIdentity({ projectId: "demo", role: "project" })).toBe("key for project demo");
    expect(describeIdentity({ projectId: null, role: "operator" })).toBe("operator key (every project)");
  });
});
