/**
 * The try-it page end to end in headless Chromium (Debian's, driven by playwright-core), against a
 * running Tempera: `TEMPERA_URL=http://127.0.0.1:8080 TEMPERA_PAGE_API_KEY=tpk_… npm run test:browser`.
 * TEMPERA_PAGE_API_KEY is a key for the page's project, `demo` (the development key the embedded
 * server prints at its first start, or `java -jar <app jar> keys create --project demo`). The server
 * must know the `slow-pattern` test template (tests/templates/; `./tempera test` adds it). Fails,
 * never skips, when TEMPERA_URL, the key or Chromium is missing. Writes a screenshot to docs/try-it.png.
 */
import { mkdtempSync, rmSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testCardPng } from "../../typescript/tests/png.js";

const TEMPERA_URL = process.env.TEMPERA_URL;
if (!TEMPERA_URL) throw new Error("TEMPERA_URL is not set: the browser test needs a running server, e.g. TEMPERA_URL=http://127.0.0.1:8080");
// The page works in project demo (its Project field's default): it needs a key for that project.
const PAGE_API_KEY = process.env.TEMPERA_PAGE_API_KEY;
if (!PAGE_API_KEY) {
  throw new Error(
    "TEMPERA_PAGE_API_KEY is not set: the browser test needs an API key for project demo " +
      "(java -jar <app jar> keys create --project demo; ./tempera test makes one)",
  );
}
const PAGE_URL = TEMPERA_URL.replace(/\/+$/, "");
const CHROMIUM = process.env.TEMPERA_CHROMIUM || "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: run scripts/ensure-chromium.sh (or set TEMPERA_CHROMIUM)`);
const HERE = dirname(fileURLToPath(import.meta.url));
const SCREENSHOT = process.env.TEMPERA_SCREENSHOT ?? resolve(HERE, "../../../docs/try-it.png");
/** The 320 px wide screenshot, next to the other one. */
const NARROW_SCREENSHOT = SCREENSHOT.replace(/\.png$/, "-320.png");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let context: BrowserContext;
let page: Page;
let profile: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  profile = mkdtempSync(join(tmpdir(), "tempera-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  // first without a key (a fresh profile has none stored): the page must ask for one
  await page.goto(`${PAGE_URL}/`, { waitUntil: "load" });
});

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A GET of the API with the page's key (what the page made, as the server has it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(path: string): Promise<any> {
  const response = await fetch(`${PAGE_URL}${path}`, { headers: { authorization: `Bearer ${PAGE_API_KEY}` } });
  expect(response.status, `GET ${path}`).toBe(200);
  return response.json();
}

/** The card of the generation started last (cards are prepended). */
async function startAndGetCard(): Promise<Locator> {
  const before = await page.getByTestId("run").count();
  await page.getByTestId("start").click();
  await expect.poll(() => page.getByTestId("run").count(), { timeout: 20_000 }).toBe(before + 1);
  const taskId = await page.getByTestId("run").first().getAttribute("data-task-id");
  expect(taskId).toMatch(/^gen-/);
  return page.locator(`[data-testid="run"][data-task-id="${taskId}"]`);
}

/** Records, inside the page, every progress value, meta line and preview a card shows. */
async function watch(card: Locator): Promise<void> {
  await card.evaluate((node) => {
    const seen = { progress: [] as number[], meta: [] as string[], previews: [] as string[], statuses: [] as string[], waiting: [] as string[], eta: [] as number[] };
    (node as HTMLElement & { seen?: typeof seen }).seen = seen;
    const record = () => {
      const bar = node.querySelector<HTMLElement>("[data-testid=run-progress]");
      const p = Number(bar?.dataset.progress ?? 0);
      if (seen.progress.at(-1) !== p) seen.progress.push(p);
      const meta = node.querySelector("[data-testid=run-meta]")?.textContent ?? "";
      if (meta && seen.meta.at(-1) !== meta) seen.meta.push(meta);
      const preview = node.querySelector<HTMLImageElement>("[data-testid=run-preview]");
      if (preview && !preview.hidden && preview.src && seen.previews.at(-1) !== preview.src) seen.previews.push(preview.src);
      const status = (node as HTMLElement).dataset.status ?? "";
      if (seen.statuses.at(-1) !== status) seen.statuses.push(status);
      const waiting = (node as HTMLElement).dataset.waiting ?? "";
      if (waiting && seen.waiting.at(-1) !== waiting) seen.waiting.push(waiting);
      const eta = node.querySelector<HTMLElement>("[data-testid=run-meta]")?.dataset.eta;
      if (eta && seen.eta.at(-1) !== Number(eta)) seen.eta.push(Number(eta));
    };
    record();
    new MutationObserver(record).observe(node, { subtree: true, attributes: true, childList: true, characterData: true });
  });
}

async function seen(card: Locator): Promise<{ progress: number[]; meta: string[]; previews: string[]; statuses: string[]; waiting: string[]; eta: number[] }> {
  return card.evaluate((node) => (node as HTMLElement & { seen?: never }).seen!);
}

async function outputImage(card: Locator): Promise<{ naturalWidth: number; naturalHeight: number; src: string }> {
  const image = card.getByTestId("output-image").first();
  await image.waitFor({ state: "attached", timeout: 30_000 });
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
  return image.evaluate((img: HTMLImageElement) => ({ naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, src: img.src }));
}

/** A pixel of a card's output image (the top left one, or the centre), as [r, g, b]. */
async function firstPixel(card: Locator, where: "corner" | "centre" = "corner"): Promise<number[]> {
  await outputImage(card);
  return card.getByTestId("output-image").first().evaluate((img: HTMLImageElement, where) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext("2d")!;
    g.drawImage(img, 0, 0);
    const [x, y] = where === "corner" ? [0, 0] : [img.naturalWidth >> 1, img.naturalHeight >> 1];
    return [...g.getImageData(x, y, 1, 1).data.slice(0, 3)];
  }, where);
}

function rgb(n: number): number[] {
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Puts a PNG on an element as if dropped from the desktop. */
async function dropPng(target: Locator, name: string, png: Uint8Array): Promise<void> {
  await target.evaluate(
    (node, { name, bytes }) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
      node.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
      node.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    },
    { name, bytes: [...png] },
  );
}

/** axe-core's serious and critical violations on the page as it is. */
async function accessibilityProblems(): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join(", ")})`);
}

async function horizontalOverflow(): Promise<{ scrollWidth: number; wide: string[] }> {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    wide: [...document.querySelectorAll<HTMLElement>("body *")]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 && e.offsetParent !== null)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`),
  }));
}

describe("the try-it page", () => {
  it("asks for an API key when it has none, and when the server refuses the one it has", async () => {
    const keyError = page.getByTestId("key-error");
    await expect.poll(() => keyError.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await keyError.getAttribute("data-code")).toBe("UNAUTHENTICATED");
    expect(await keyError.textContent()).toContain(
      "Paste the API key the server printed at its first start, or create one with ./tempera keys create --project demo",
    );
    expect(await page.locator('#function-list [data-code="UNAUTHENTICATED"]').count()).toBe(1);
    expect(await page.getByTestId("api-key").getAttribute("type")).toBe("password");
    expect(await page.locator('label[for="api-key"]').textContent()).toBe("API key");

    // a wrong key typed into the field: stored, tried, refused
    await page.getByTestId("api-key").fill("tpk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    await page.getByTestId("api-key-save").click();
    await expect.poll(() => keyError.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await keyError.textContent()).toContain("The server refused the API key");
    expect(await page.evaluate(() => localStorage.getItem("tempera.apiKey"))).toBe(
      "tpk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    // Chromium logs each refused request (401) as a console error: expected here, not later
    pageErrors.length = 0;
  });

  it("takes the key from a #key= link, keeps it, and takes it out of the address bar", async () => {
    await page.goto("about:blank");
    await page.goto(`${PAGE_URL}/#key=${encodeURIComponent(PAGE_API_KEY)}`, { waitUntil: "load" });
    await expect.poll(() => page.getByTestId("function-generate-pattern").count(), { timeout: 20_000 }).toBe(1);
    expect(await page.evaluate(() => location.hash)).toBe("");
    expect(await page.evaluate(() => location.href)).not.toContain("key=");
    expect(await page.evaluate(() => localStorage.getItem("tempera.apiKey"))).toBe(PAGE_API_KEY);
    expect(await page.getByTestId("api-key").inputValue()).toBe(PAGE_API_KEY);
    expect(await page.getByTestId("key-error").isHidden()).toBe(true);
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });

  it("lists the functions and builds generate-pattern's form from its schema", async () => {
    await expect.poll(() => page.getByTestId("function-generate-pattern").count(), { timeout: 20_000 }).toBe(1);
    for (const id of ["invert", "gradient", "slow-pattern"]) {
      expect(await page.getByTestId(`function-${id}`).count(), id).toBe(1);
    }
    // no Gradio server is configured: its function is listed as unavailable, without the operator's reason
    expect(await page.getByTestId("function-paint-square").count()).toBe(0);
    await expect.poll(() => page.getByTestId("unavailable-paint-square").count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId("unavailable-paint-square").textContent()).toBe("Paint a square (Gradio)not set up on this server");
    await page.getByTestId("function-generate-pattern").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Generate Pattern");
    // one field per schema property, with the schema's defaults and bounds
    expect(await page.locator("#fields [data-param]").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.param))).toEqual([
      "color",
      "border",
      "blur",
    ]);
    expect(await page.getByTestId("param-border").inputValue()).toBe("32");
    expect(await page.getByTestId("param-blur").getAttribute("max")).toBe("31");
    expect(await page.getByTestId("param-color-picker").inputValue()).toBe("#333333"); // 3355443
    for (const tier of ["draft", "standard", "high", "ultra"]) expect(await page.getByTestId(`tier-${tier}`).count()).toBe(1);
    expect(await page.getByTestId("tier-standard").isChecked()).toBe(true);
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-state")).not.toBe("closed");
    expect(await page.locator("#project").inputValue()).toBe("demo");
  });

  it("says, calmly, that running generations are lost on a restart of the in-process test server", async () => {
    // the embedded jar the browser test runs against is on the in-process test server
    expect(await api("/api/system")).toEqual({ temporal: "IN_PROCESS_TEST_SERVER", durable: false });
    const note = page.getByTestId("system-note");
    await expect.poll(() => note.isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await note.getAttribute("data-temporal")).toBe("IN_PROCESS_TEST_SERVER");
    expect(await note.getAttribute("role")).toBe("status"); // said, not alarmed (no alert role)
    expect(await note.textContent()).toContain("in-process test server: a generation still running when the server restarts is lost");
    expect(await note.textContent()).toContain("./tempera run");
  });

  it("says what is wrong with a typed value at its field, never falls back to the default, and starts nothing", async () => {
    const before = await page.getByTestId("run").count();
    const cases: [string, string, string][] = [
      ["param-blur", "99", "Must be at most 31"],
      ["param-blur", "2.5", "Must be a whole number (2 or 3)"],
      ["param-border", "abc", 'Not a number: "abc"'],
      ["param-border", "1,5", "Not a number: use a point for decimals (1.5)"],
    ];
    for (const [field, typed, said] of cases) {
      await page.getByTestId(field).fill(typed);
      await page.getByTestId("start").click();
      await expect.poll(() => page.getByTestId("form-error").getAttribute("data-code"), { timeout: 15_000 }).toBe("INVALID_VALUES");
      expect(await page.getByTestId(`${field}-problem`).textContent()).toBe(said);
      expect(await page.getByTestId(field).getAttribute("aria-invalid")).toBe("true");
      expect(await page.getByTestId(field).inputValue()).toBe(typed); // kept as typed, not replaced
      await page.getByTestId(field).fill(field === "param-blur" ? "4" : "32");
    }
    // said on leaving the field too
    await page.getByTestId("param-blur").fill("-3");
    await page.getByTestId("param-border").focus();
    expect(await page.getByTestId("param-blur-problem").textContent()).toBe("Must be at least 1");
    await page.getByTestId("param-blur").fill("4");
    await page.getByTestId("batch").fill("0");
    await page.getByTestId("start").click();
    await expect.poll(() => page.getByTestId("batch-problem").textContent()).toBe("Must be at least 1");
    await page.getByTestId("batch").fill("1");
    expect(await page.getByTestId("run").count()).toBe(before);
    // with the values put right, it starts
    await page.getByTestId("start").click();
    await expect.poll(() => page.getByTestId("run").count(), { timeout: 20_000 }).toBe(before + 1);
    expect(await page.getByTestId("form-error").isHidden()).toBe(true);
  });

  it("generates a pattern at the draft tier and shows the output image", async () => {
    await page.getByTestId("param-border").fill("24");
    await page.getByTestId("param-color").fill(String(0x3366ff));
    await page.getByTestId("tier-draft").check({ force: true });
    const card = await startAndGetCard();
    expect(await card.getAttribute("data-function")).toBe("generate-pattern");
    expect(await card.getAttribute("data-task-id")).toMatch(/^gen-/);
    await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    expect(await card.getByTestId("run-progress").getAttribute("aria-valuenow")).toBe("100");
    const image = await outputImage(card);
    // draft renders 256 px; the feathered border pads 24 px on each side
    expect(image.naturalWidth).toBe(256 + 2 * 24);
    expect(image.naturalHeight).toBe(256 + 2 * 24);
    expect(image.src).toContain("/api/generations/");
    expect(await card.locator("figcaption").textContent()).toContain("304×304");
  });

  it("follows a slow generation live: progress, step, ETA, queue position, previews, then the output", async () => {
    await page.getByTestId("function-slow-pattern").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Slow Pattern (test)");
    await page.getByTestId("param-steps").fill("40");
    await page.getByTestId("tier-standard").check({ force: true });
    // two at once: the backend runs one prompt at a time, so one of them waits in its queue
    const first = await startAndGetCard();
    await watch(first);
    // a different colour: the backend, like ComfyUI, would serve identical inputs from its cache
    await page.getByTestId("param-color").fill(String(0xff8800));
    const second = await startAndGetCard();
    await watch(second);

    // mid-run: a partly filled bar and the step count, for the screenshot as much as for the check
    await expect
      .poll(async () => (await first.getByTestId("run-meta").textContent()) ?? "", { timeout: 30_000 })
      .toMatch(/step (1[2-9]|[23]\d) of 40/);
    await page.screenshot({ path: SCREENSHOT, fullPage: false }).catch(async () => {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
    });

    for (const card of [first, second]) {
      await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
      const image = await outputImage(card);
      expect(image.naturalWidth).toBe(96);
    }
    const a = await seen(first);
    const b = await seen(second);
    for (const s of [a, b]) {
      const between = s.progress.filter((p) => p > 0 && p < 1);
      expect(between.length, `progress values seen: ${s.progress.join(", ")}`).toBeGreaterThanOrEqual(3);
      expect([...between].sort((x, y) => x - y)).toEqual(between); // the bar only moves forward
      expect(s.meta.some((m) => /step \d+ of 40/.test(m)), s.meta.join(" | ")).toBe(true);
      expect(s.meta.some((m) => /about \d+ (s|min)/.test(m)), s.meta.join(" | ")).toBe(true);
      expect(s.previews.length, "live previews").toBeGreaterThanOrEqual(1);
      expect(s.statuses.at(-1)).toBe("SUCCEEDED");
    }
    // the one behind waits in the backend's queue, said as such (not as a wait for a slot)
    expect([...a.meta, ...b.meta].some((m) => /\d+ ahead in the backend's queue|next in the backend's queue/.test(m)), [...a.meta, ...b.meta].join(" | ")).toBe(true);
    expect([...a.waiting, ...b.waiting]).toContain("backend-queue");
    // a steady ETA: it counts down, and never goes up by more than a few seconds at a time
    for (const s of [a, b]) {
      const rises = s.eta.slice(1).map((v, i) => v - s.eta[i]!).filter((d) => d > 0);
      expect(Math.max(0, ...rises), s.eta.join(",")).toBeLessThanOrEqual(3);
    }
  });

  it("cancels a running generation and says so", async () => {
    await page.getByTestId("param-steps").fill("400");
    const card = await startAndGetCard();
    await expect
      .poll(async () => Number(await card.getByTestId("run-progress").getAttribute("data-progress")), { timeout: 30_000 })
      .toBeGreaterThan(0);
    await card.getByTestId("run-cancel").click();
    await expect.poll(() => card.getAttribute("data-status"), { timeout: 30_000 }).toBe("CANCELLED");
    expect(await card.getByTestId("run-error").getAttribute("data-code")).toBe("CANCELLED");
    expect(await card.getByTestId("run-cancel").isHidden()).toBe(true);
  });

  it("inverts an uploaded image", async () => {
    await page.getByTestId("function-invert").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Invert Colors");
    await page.getByTestId("param-image").setInputFiles({ name: "card.png", mimeType: "image/png", buffer: Buffer.from(testCardPng()) });
    await expect.poll(() => page.getByTestId("param-image-status").getAttribute("data-state"), { timeout: 15_000 }).toBe("done");
    expect(await page.getByTestId("param-image-status").textContent()).toMatch(/uploads\/.+\.png/);
    await page.getByTestId("tier-standard").check({ force: true });
    const card = await startAndGetCard();
    expect(await card.getAttribute("data-function")).toBe("invert");
    await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    const image = await outputImage(card);
    expect(image.naturalWidth).toBe(4); // standard keeps the 4×4 test card's size
    // the output really is the negative: the test card's red corner is now cyan
    const corner = await card.getByTestId("output-image").first().evaluate((img: HTMLImageElement) => {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext("2d")!;
      g.drawImage(img, 0, 0);
      return [...g.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    });
    expect(corner).toEqual([0, 255, 255]);
  });

  it("follows the generations again after a reload (remembered in the page, the key with them)", async () => {
    const ids = await page.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId));
    expect(await page.evaluate(() => location.href)).not.toContain("key=");
    await page.reload({ waitUntil: "load" });
    await expect.poll(() => page.getByTestId("run").count(), { timeout: 20_000 }).toBe(ids.length);
    const statuses = await page.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.status));
    await expect
      .poll(async () => page.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.status)), { timeout: 20_000 })
      .toEqual(expect.arrayContaining(["SUCCEEDED", "CANCELLED"]));
    expect(statuses.length).toBe(ids.length);
    // the key came from storage: the socket authenticated as project demo
    await expect.poll(() => page.getByTestId("key-identity").textContent(), { timeout: 20_000 }).toBe("key for project demo");
    expect(await page.getByTestId("key-error").isHidden()).toBe(true);
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });
  it("reproduces a result from its seed, keeps a fixed seed, and varies it by one", async () => {
    await page.getByTestId("function-seeded-color").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Seeded Color (test)");
    expect(await page.getByTestId("param-seed-mode").inputValue()).toBe("random");
    expect(await page.getByTestId("param-seed").isDisabled()).toBe(true);
    await page.getByTestId("tier-draft").check({ force: true });
    // random: the server draws the seed, and the card says which
    const drawn = await startAndGetCard();
    await expect.poll(() => drawn.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    await expect.poll(() => drawn.getByTestId("run-seed-value").count(), { timeout: 15_000 }).toBe(1);
    const seed = Number(await drawn.getByTestId("run-seed-value").getAttribute("data-seed"));
    expect(seed).toBeGreaterThanOrEqual(0);
    expect(await firstPixel(drawn)).toEqual(rgb(seed));
    // reproduce: the form takes its parameters with the seed fixed, and paints the same square
    await drawn.getByTestId("run-reproduce").click();
    expect(await page.getByTestId("param-seed-mode").inputValue()).toBe("fixed");
    expect(await page.getByTestId("param-seed").inputValue()).toBe(String(seed));
    const again = await startAndGetCard();
    await expect.poll(() => again.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    expect(await firstPixel(again)).toEqual(rgb(seed));
    await expect.poll(() => again.getByTestId("run-seed-value").getAttribute("data-seed"), { timeout: 15_000 }).toBe(String(seed));
    // vary, three at once: one batch sweeping seeds 100, 101, 102, each its own colour; the field moves on to 103
    await page.getByTestId("param-seed-mode").selectOption("vary");
    await page.getByTestId("param-seed").fill("100");
    await page.getByTestId("batch").fill("3");
    const before = await page.getByTestId("run").count();
    const batchesBefore = await page.getByTestId("batch-run").count();
    await page.getByTestId("start").click();
    await expect.poll(() => page.getByTestId("batch-run").count(), { timeout: 20_000 }).toBe(batchesBefore + 1);
    const panel = page.getByTestId("batch-run").first();
    await expect.poll(() => page.getByTestId("run").count(), { timeout: 20_000 }).toBe(before + 3);
    await page.getByTestId("batch").fill("1");
    expect(await page.getByTestId("param-seed").inputValue()).toBe("103");
    await expect.poll(() => panel.getAttribute("data-status"), { timeout: 60_000 }).toBe("COMPLETED");
    expect(await panel.getByTestId("batch-progress").textContent()).toBe("3 of 3 done");
    // one batch of 3 on the server, its generations the cards
    const batchId = (await panel.getAttribute("data-batch-id"))!;
    const batch = await api(`/api/batches/${encodeURIComponent(batchId)}`);
    expect(batch).toMatchObject({ id: batchId, functionId: "seeded-color", status: "COMPLETED", sweep: { seed: [100, 101, 102] } });
    expect(batch.progress).toMatchObject({ total: 3, succeeded: 3 });
    const cardIds = await panel.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId));
    expect(cardIds.sort()).toEqual(batch.results.items.map((i: { generationId: string }) => i.generationId).sort());
    const varied = panel.getByTestId("run");
    const pixels: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const card = varied.nth(i);
      await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
      pixels.push(await firstPixel(card));
    }
    // newest first
    expect(pixels).toEqual([rgb(102), rgb(101), rgb(100)]);
  });

  it("shows a batch started here again after a reload, with its progress and results", async () => {
    const panel = page.getByTestId("batch-run").first();
    const batchId = (await panel.getAttribute("data-batch-id"))!;
    const cardIds = (await panel.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId!))).sort();
    expect(cardIds).toHaveLength(3);
    // remembered per project
    const remembered = await page.evaluate(() => JSON.parse(localStorage.getItem("tempera.try-it.batches") ?? "{}") as Record<string, { id: string }[]>);
    expect(remembered.demo?.map((b) => b.id)).toContain(batchId);
    await page.reload({ waitUntil: "load" });
    const again = page.locator(`[data-testid="batch-run"][data-batch-id="${batchId}"]`);
    await expect.poll(() => again.count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => again.getAttribute("data-status"), { timeout: 20_000 }).toBe("COMPLETED");
    expect(await again.getByTestId("batch-progress").textContent()).toBe("3 of 3 done");
    expect(await again.getByTestId("batch-cancel-all").isHidden()).toBe(true);
    // its three generations inside it again (not loose on the page), finished, with their images
    await expect.poll(() => again.getByTestId("run").count(), { timeout: 20_000 }).toBe(3);
    expect((await again.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId!))).sort()).toEqual(cardIds);
    for (let i = 0; i < 3; i++) {
      const card = again.getByTestId("run").nth(i);
      await expect.poll(() => card.getAttribute("data-status"), { timeout: 30_000 }).toBe("SUCCEEDED");
      await outputImage(card);
    }
    expect(await page.locator(`#runs > [data-testid="run"][data-task-id="${cardIds[0]}"]`).count()).toBe(0);
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });

  it("runs How many > 1 with random seeds as one batch (count N), and Cancel all stops it", async () => {
    // a long slow-pattern first holds the test backend (one prompt at a time): the batch waits behind it
    await page.getByTestId("function-slow-pattern").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Slow Pattern (test)");
    await page.getByTestId("param-steps").fill("400");
    const blocker = await startAndGetCard();
    try {
      await page.getByTestId("function-seeded-color").click();
      await expect.poll(() => page.locator("#function-title").textContent()).toBe("Seeded Color (test)");
      await page.getByTestId("param-seed-mode").selectOption("random");
      await page.getByTestId("tier-draft").check({ force: true });
      await page.getByTestId("batch").fill("6");
      const batchesBefore = await page.getByTestId("batch-run").count();
      await page.getByTestId("start").click();
      await expect.poll(() => page.getByTestId("batch-run").count(), { timeout: 20_000 }).toBe(batchesBefore + 1);
      await page.getByTestId("batch").fill("1");
      const panel = page.getByTestId("batch-run").first();
      expect(await panel.getAttribute("data-total")).toBe("6");
      const batchId = (await panel.getAttribute("data-batch-id"))!;
      // one batch on the server: count 6, its seeds left to the server
      const started = await api(`/api/batches/${encodeURIComponent(batchId)}`);
      expect(started).toMatchObject({ id: batchId, functionId: "seeded-color", count: 6, progress: { total: 6 } });
      expect(started.progress.succeeded).toBe(0);
      // its six generations started, waiting behind the blocker
      await expect
        .poll(async () => {
          const { progress } = await api(`/api/batches/${encodeURIComponent(batchId)}`);
          return progress.queued + progress.running;
        }, { timeout: 20_000 })
        .toBe(6);
      await panel.getByTestId("batch-cancel-all").click();
      await expect.poll(() => panel.getAttribute("data-status"), { timeout: 30_000 }).toBe("CANCELLED");
      await expect.poll(async () => (await api(`/api/batches/${encodeURIComponent(batchId)}`)).status, { timeout: 30_000 }).toBe("CANCELLED");
      const ended = await api(`/api/batches/${encodeURIComponent(batchId)}`);
      expect(ended.progress.cancelled).toBeGreaterThan(0);
      expect(ended.progress.succeeded).toBe(0);
      await expect.poll(() => panel.getByTestId("batch-progress").textContent(), { timeout: 15_000 }).toMatch(/cancelled\)$/);
      expect(await panel.getByTestId("batch-cancel-all").isHidden()).toBe(true);
      // whatever had started shows its card, cancelled
      for (const status of await panel.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.status))) {
        expect(["QUEUED", "RUNNING", "CANCELLED"]).toContain(status);
      }
    } finally {
      await blocker.getByTestId("run-cancel").click();
    }
    await expect.poll(() => blocker.getAttribute("data-status"), { timeout: 30_000 }).toBe("CANCELLED");
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });

  it("uploads an image dropped on the form, and one pasted", async () => {
    await page.getByTestId("function-invert").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Invert Colors");
    await dropPng(page.getByTestId("param-image-drop"), "dropped.png", testCardPng());
    await expect.poll(() => page.getByTestId("param-image-status").getAttribute("data-state"), { timeout: 15_000 }).toBe("done");
    expect(await page.getByTestId("param-image-status").textContent()).toMatch(/Uploaded as uploads\/.+\.png/);
    expect(await page.getByTestId("param-image-thumb").isVisible()).toBe(true);
    const card = await startAndGetCard();
    await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    expect(await firstPixel(card)).toEqual([0, 255, 255]);
    // pasted (as from the clipboard) anywhere on the page
    await page.evaluate((bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
      document.body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, [...testCardPng()]);
    await expect.poll(() => page.getByTestId("param-image-status").textContent(), { timeout: 15_000 }).toMatch(/Uploaded as uploads\/.+\.png/);
    // before a reload the dropped image (the page's own blob: URL) is the comparison's before; after one
    // the page no longer has it, and compares with the upload read back from the server instead
    const id = (await card.getAttribute("data-task-id"))!;
    expect(await card.getByTestId("output-compare").count()).toBe(1);
    await page.reload({ waitUntil: "load" });
    const again = page.locator(`[data-testid="run"][data-task-id="${id}"]`);
    await expect.poll(() => again.getAttribute("data-status"), { timeout: 30_000 }).toBe("SUCCEEDED");
    // the two batches of earlier steps are back too, each with its cards (read once: they ended)
    await expect.poll(() => page.getByTestId("batch-run").count(), { timeout: 20_000 }).toBe(2);
    await expect.poll(() => page.locator('[data-testid="batch-run"][data-status="RUNNING"]').count(), { timeout: 20_000 }).toBe(0);
    await outputImage(again);
    await expect.poll(() => again.getByTestId("output-compare").count(), { timeout: 15_000 }).toBe(1);
    expect(await again.getByTestId("output-compare-unavailable").count()).toBe(0);
    await again.getByTestId("output-compare").first().click();
    expect(await again.getByTestId("compare").isVisible()).toBe(true);
    const before = again.getByTestId("compare").locator("img.before");
    await expect.poll(() => before.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
    expect(await before.getAttribute("src")).toMatch(/\/api\/projects\/demo\/uploads\/[^/?]+\.png\?expires=\d+&signature=/);
    // the before is the dropped test card itself (its top left pixel red), the after its negative
    const beforePixel = await before.evaluate((img: HTMLImageElement) => {
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext("2d")!;
      g.drawImage(img, 0, 0);
      return [...g.getImageData(0, 0, 1, 1).data.slice(0, 3)];
    });
    expect(beforePixel).toEqual([255, 0, 0]);
    // an upload deleted since (answered 404 here): the card says so instead of a compare with no before
    const errorsBefore = pageErrors.length;
    await page.route("**/api/projects/*/uploads/*", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ code: "NOT_FOUND", message: "Project demo has no upload named 'x.png'" }) }),
    );
    try {
      await page.reload({ waitUntil: "load" });
      const gone = page.locator(`[data-testid="run"][data-task-id="${id}"]`);
      await expect.poll(() => gone.getAttribute("data-status"), { timeout: 30_000 }).toBe("SUCCEEDED");
      await expect.poll(() => gone.getByTestId("output-compare-unavailable").count(), { timeout: 15_000 }).toBe(1);
      expect(await gone.getByTestId("output-compare-unavailable").textContent()).toBe("No compare: the uploaded input is no longer stored on the server");
      expect(await gone.getByTestId("output-compare").count()).toBe(0);
    } finally {
      await page.unroute("**/api/projects/*/uploads/*");
    }
    // the browser logs the 404s answered on purpose above, and nothing else
    const logged = pageErrors.splice(errorsBefore);
    expect(logged.filter((e) => !/status of 404/.test(e)), logged.join("\n")).toEqual([]);
    const remembered = await page.evaluate(() => JSON.parse(localStorage.getItem("tempera.try-it.runs") ?? "[]") as { taskId: string; unkeptInputs?: string[] }[]);
    expect(remembered.find((r) => r.taskId === id)?.unkeptInputs).toEqual(["image"]);
  });

  it("uses an output as another function's input, and compares before and after", async () => {
    await page.getByTestId("function-generate-pattern").click();
    await page.getByTestId("tier-draft").check({ force: true });
    await page.getByTestId("param-color").fill(String(0x3366ff));
    const first = await startAndGetCard();
    await expect.poll(() => first.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    await outputImage(first);
    await first.getByTestId("output-use").first().click();
    expect(await page.getByTestId("use-dialog").isVisible()).toBe(true);
    await page.getByTestId("use-in-invert").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Invert Colors");
    expect(await page.getByTestId("param-image-status").textContent()).toMatch(/^Using outputs\/renders\/try-it-.+\.png$/);
    const second = await startAndGetCard();
    await expect.poll(() => second.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    const before = await firstPixel(first, "centre");
    const after = await firstPixel(second, "centre");
    // the chain really ran on the first output: its negative (within the rounding of the pattern's blur)
    after.forEach((c, i) => expect(Math.abs(c - (255 - before[i]!)), `${after} vs ${before}`).toBeLessThanOrEqual(2));
    await second.getByTestId("output-compare").first().click();
    expect(await second.getByTestId("compare").isVisible()).toBe(true);
    await second.getByTestId("compare-slider").fill("20");
    expect(await second.getByTestId("compare").evaluate((n) => (n as HTMLElement).style.getPropertyValue("--cut"))).toBe("20%");
    expect(await second.getByTestId("output-download").first().getAttribute("download")).toMatch(/\.png$/);
    // remembered for a reload with its input's (signed, lasting) URL; an uploaded input's blob: URL is not kept
    const remembered = await page.evaluate(() => JSON.parse(localStorage.getItem("tempera.try-it.runs") ?? "[]") as { taskId: string; inputs?: Record<string, string> }[]);
    const secondId = await second.getAttribute("data-task-id");
    expect(Object.values(remembered.find((r) => r.taskId === secondId)?.inputs ?? {})).toEqual([expect.stringContaining("/api/generations/")]);
    expect(remembered.flatMap((r) => Object.values(r.inputs ?? {})).some((u) => u.startsWith("blob:"))).toBe(false);
  });

  it("shows the project's history and gallery from the server, also with nothing remembered in the page", async () => {
    const ids = await page.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId!));
    await page.evaluate(() => {
      localStorage.removeItem("tempera.try-it.runs");
      localStorage.removeItem("tempera.try-it.batches");
    });
    await page.reload({ waitUntil: "load" });
    await expect.poll(() => page.getByTestId("function-generate-pattern").count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByTestId("run").count()).toBe(0);
    await page.getByTestId("tab-history").click();
    await expect.poll(() => page.getByTestId("history-item").count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(10);
    const listed = await page.getByTestId("history-item").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.id!));
    expect(listed).toEqual(expect.arrayContaining(ids.slice(0, 10))); // newest first: this session's latest on the first page
    const first = page.getByTestId("history-item").first();
    expect(await first.getAttribute("data-status")).toBe("SUCCEEDED");
    await expect.poll(() => first.locator("img").first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
    if (await page.getByTestId("history-more").count()) {
      await page.getByTestId("history-more").click();
      await expect.poll(() => page.getByTestId("history-item").count(), { timeout: 20_000 }).toBeGreaterThan(listed.length);
    }
    // a history item's output as the input of another function's image parameter: it runs on it
    const source = page.locator('[data-testid="history-item"][data-status="SUCCEEDED"][data-function="generate-pattern"]').first();
    await source.getByTestId("history-use").first().click();
    expect(await page.getByTestId("use-dialog").isVisible()).toBe(true);
    await page.getByTestId("use-in-invert").click();
    await expect.poll(() => page.locator("#function-title").textContent()).toBe("Invert Colors");
    expect(await page.getByTestId("tab-live").getAttribute("aria-selected")).toBe("true");
    expect(await page.getByTestId("param-image-status").textContent()).toMatch(/^Using outputs\/renders\/try-it-.+\.png$/);
    const used = (await page.getByTestId("param-image-status").textContent())!.replace(/^Using /, "");
    const inverted = await startAndGetCard();
    await expect.poll(() => inverted.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    await outputImage(inverted);
    const ran = await api(`/api/generations/${encodeURIComponent((await inverted.getAttribute("data-task-id"))!)}`);
    expect(ran).toMatchObject({ functionId: "invert", status: "SUCCEEDED" });
    expect(JSON.stringify(ran)).toContain(used);
    await page.getByTestId("tab-history").click();
    await page.getByTestId("history-status").selectOption("CANCELLED");
    await expect.poll(async () => page.getByTestId("history-item").evaluateAll((n) => [...new Set(n.map((x) => (x as HTMLElement).dataset.status))]), { timeout: 20_000 }).toEqual(["CANCELLED"]);
    // the gallery: the outputs, newest first, loaded; deleting one generation's outputs takes them away
    await page.getByTestId("tab-gallery").click();
    await expect.poll(() => page.getByTestId("gallery-image").count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(5);
    const firstImage = page.getByTestId("gallery-image").first();
    await expect.poll(() => firstImage.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
    const doomed = await page.getByTestId("gallery-item").first().getAttribute("data-generation");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByTestId("gallery-delete").first().click();
    await expect.poll(() => page.locator(`[data-testid=gallery-item][data-generation="${doomed}"]`).count(), { timeout: 15_000 }).toBe(0);
    await page.getByTestId("tab-history").click();
    await page.getByTestId("tab-gallery").click();
    await expect.poll(() => page.getByTestId("gallery-image").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.locator(`[data-testid=gallery-item][data-generation="${doomed}"]`).count()).toBe(0);
    // keyboard: the tabs move with the arrow keys
    await page.getByTestId("tab-gallery").focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByTestId("tab-live").getAttribute("aria-selected")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("tab-live");
  });

  it("says when it is offline, and live again once the network is back", async () => {
    // live updates run over the WebSocket, which a generation opens
    await page.getByTestId("function-generate-pattern").click();
    await page.getByTestId("tier-draft").check({ force: true });
    const card = await startAndGetCard();
    await expect.poll(() => card.getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-state"), { timeout: 20_000 }).toBe("open");
    await context.setOffline(true);
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-state"), { timeout: 10_000 }).toBe("offline");
    expect(await page.getByTestId("connection").textContent()).toContain("offline");
    await context.setOffline(false);
    await expect.poll(() => page.getByTestId("connection").getAttribute("data-state"), { timeout: 30_000 }).toBe("open");
    expect(await page.getByTestId("connection").textContent()).toBe("live");
  });

  it("has a dark mode (the system's, or picked) and no serious accessibility problems in either", async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await background();
    expect(await accessibilityProblems()).toEqual([]);
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await background();
    expect(dark).not.toBe(light);
    expect(await accessibilityProblems()).toEqual([]);
    // the toggle: system → dark → light → system, remembered
    await page.emulateMedia({ colorScheme: "light" });
    await page.getByTestId("theme-toggle").click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect(await background()).toBe(dark);
    await page.reload({ waitUntil: "load" });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    await page.getByTestId("theme-toggle").click();
    expect(await background()).toBe(light);
    await page.getByTestId("theme-toggle").click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBeUndefined();
    // the history and gallery tabs too
    await expect.poll(() => page.getByTestId("function-generate-pattern").count(), { timeout: 20_000 }).toBe(1);
    for (const tab of ["tab-history", "tab-gallery", "tab-live"]) {
      await page.getByTestId(tab).click();
      await page.waitForLoadState("networkidle").catch(() => undefined);
      expect(await accessibilityProblems(), tab).toEqual([]);
    }
  });

  it("fits 320 px without scrolling sideways", async () => {
    await page.setViewportSize({ width: 320, height: 900 });
    try {
      await page.getByTestId("function-invert").click();
      // the API key field: on its own line, as wide as the screen allows, and usable
      const key = await page.getByTestId("api-key").boundingBox();
      expect(key, "the key field is shown").not.toBeNull();
      expect(key!.width, `key field ${key!.width} px wide`).toBeGreaterThanOrEqual(220);
      expect(key!.x).toBeGreaterThanOrEqual(0);
      expect(key!.x + key!.width).toBeLessThanOrEqual(320);
      const save = await page.getByTestId("api-key-save").boundingBox();
      expect(save!.x + save!.width).toBeLessThanOrEqual(320);
      await page.getByTestId("api-key").click();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("api-key");
      for (const tab of ["tab-live", "tab-history", "tab-gallery"]) {
        await page.getByTestId(tab).click();
        await page.waitForTimeout(300);
        const overflow = await horizontalOverflow();
        expect(overflow.scrollWidth, `${tab}: ${overflow.wide.join(", ")}`).toBeLessThanOrEqual(320);
      }
      await page.getByTestId("tab-live").click();
      await page.getByTestId("function-slow-pattern").click();
      await page.getByTestId("param-steps").fill("30");
      await startAndGetCard();
      const overflow = await horizontalOverflow();
      expect(overflow.scrollWidth, overflow.wide.join(", ")).toBeLessThanOrEqual(320);
      await page.screenshot({ path: NARROW_SCREENSHOT, fullPage: true });
    } finally {
      await page.setViewportSize({ width: 1360, height: 900 });
    }
    expect(pageErrors.filter((e) => !/ERR_INTERNET_DISCONNECTED|net::/.test(e)), pageErrors.join("\n")).toEqual([]);
  });
});
