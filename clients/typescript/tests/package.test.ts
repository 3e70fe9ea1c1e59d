/**
 * The published package as an app gets it: `npm pack` (after `npm run build`), the tarball installed
 * into a scratch project (offline: it has no dependencies), then `import` (ESM) and `require` (CommonJS) in Node, and TypeScript
 * resolving the types of both. Run with `npm run test:package`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const here = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
let scratch: string;
let packed: string[];

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "tempera-client-package-"));
  // the build `npm run build` made (npm pack's own prepack builds it again; not here, to keep the JSON clean)
  if (!existsSync(join(here, "dist", "cjs", "package.json"))) throw new Error("Run npm run build first");
  const listing = JSON.parse(run(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], here)) as {
    filename: string;
    files: { path: string }[];
  }[];
  packed = listing[0]!.files.map((f) => f.path);
  const tarball = readdirSync(scratch).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, version: "0.0.0" }));
  run(npm, ["install", "--no-audit", "--no-fund", "--offline", join(scratch, tarball)], scratch);
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds the ES module and CommonJS builds with their types, the generated types and the README", () => {
    for (const file of [
      "README.md",
      "package.json",
      "dist/esm/index.js",
      "dist/esm/index.d.ts",
      "dist/esm/generated/openapi.d.ts",
      "dist/cjs/index.js",
      "dist/cjs/index.d.ts",
      "dist/cjs/package.json",
    ]) {
      expect(packed, file).toContain(file);
    }
    expect(packed.some((f) => f.startsWith("tests/"))).toBe(false);
  });

  it("is imported as an ES module", () => {
    writeFileSync(
      join(scratch, "esm.mjs"),
      `import { TemperaClient, TemperaApiError } from "@tempera/client";
const c = new TemperaClient({ baseUrl: "http://127.0.0.1:1" });
const e = new TemperaApiError({ code: "QUOTA_RUNNING", status: 429, retryAfterSeconds: 3, message: "m" });
console.log(JSON.stringify([c.wsUrl, e instanceof Error, e.status, e.retryAfterSeconds]));`,
    );
    expect(JSON.parse(run(process.execPath, ["esm.mjs"], scratch))).toEqual(["ws://127.0.0.1:1/ws", true, 429, 3]);
  });

  it("is required as CommonJS", () => {
    writeFileSync(
      join(scratch, "cjs.cjs"),
      `const { TemperaClient, TaskFailedError } = require("@tempera/client");
const c = new TemperaClient({ baseUrl: "https://example.test/base" });
console.log(JSON.stringify([c.wsUrl, typeof TaskFailedError]));`,
    );
    expect(JSON.parse(run(process.execPath, ["cjs.cjs"], scratch))).toEqual(["wss://example.test/base/ws", "function"]);
  });

  it("gives TypeScript the types from import and from require", () => {
    writeFileSync(
      join(scratch, "esm.mts"),
      `import { TemperaClient, type GenerationStatus, type Priority } from "@tempera/client";
const status: GenerationStatus = "QUEUED";
const priority: Priority = "batch";
// @ts-expect-error: not a status
const wrong: GenerationStatus = "DONE";
export const used = [new TemperaClient({ baseUrl: "http://x" }), status, priority, wrong];`,
    );
    writeFileSync(
      join(scratch, "cjs.cts"),
      `import client = require("@tempera/client");
const tier: client.Tier = "high";
export const used = [new client.TemperaClient({ baseUrl: "http://x" }), tier];`,
    );
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, skipLibCheck: false, types: [], lib: ["ES2022", "DOM"] },
        files: ["esm.mts", "cjs.cts"],
      }),
    );
    run(process.execPath, [tsc, "-p", "tsconfig.json"], scratch);
  });
});
