/**
 * The try-it page end to end in headless Chromium (Debian's, driven by playwright-core), against a
 * running Tempera: `TEMPERA_URL=http://127.0.0.1:8080 TEMPERA_PAGE_API_KEY=tpk_… npm run test:browser`.
 * TEMPERA_PAGE_API_KEY is a key for the page's project, `demo` (the development key the embedded
 * server prints at its first start, or `java -jar <app jar> keys create --project demo`). The server
 * must know the `slow-pattern` test template (tests/templates/; `./tempera test` adds it). Fails,
 * never skips, when TEMPERA_URL, the key or Chromium is missing. Writes a screenshot to docs/try-it.png.
 */
import { mkdtempSync, rmSync, existsSync, mkdirSync } from "node:fs";
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
    const seen = { progress: [] as number[], meta: [] as string[], previews: [] as string[], statuses: [] as string[] };
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
    };
    record();
    new MutationObserver(record).observe(node, { subtree: true, attributes: true, childList: true, characterData: true });
  });
}

async function seen(card: Locator): Promise<{ progress: number[]; meta: string[]; previews: string[]; statuses: string[] }> {
  return card.evaluate((node) => (node as HTMLElement & { seen?: never }).seen!);
}

async function outputImage(card: Locator): Promise<{ naturalWidth: number; naturalHeight: number; src: string }> {
  const image = card.getByTestId("output-image").first();
  await image.waitFor({ state: "attached", timeout: 30_000 });
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
  return image.evaluate((img: HTMLImageElement) => ({ naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, src: img.src }));
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

  it("shows a parameter out of range next to its field, and starts nothing", async () => {
    await page.getByTestId("param-blur").fill("99");
    const before = await page.getByTestId("run").count();
    await page.getByTestId("start").click();
    await expect.poll(() => page.getByTestId("form-error").getAttribute("data-code"), { timeout: 15_000 }).toBe("INVALID_PARAMETERS");
    expect(await page.locator('[data-param="blur"]').getAttribute("class")).toContain("invalid");
    expect(await page.locator('[data-param="blur"] .problem').textContent()).toMatch(/\S/);
    expect(await page.getByTestId("run").count()).toBe(before);
    await page.getByTestId("param-blur").fill("4");
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
    expect([...a.meta, ...b.meta].some((m) => /queue position \d+|next in queue/.test(m)), [...a.meta, ...b.meta].join(" | ")).toBe(true);
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
});
