/**
 * The history survives a restart of the system (`./tempera run`: the Temporal CLI's dev server on a
 * file database, and the embedded app): run in two phases by scripts/page-restart-test.sh, which
 * restarts both in between. TEMPERA_RESTART_PHASE=before starts two generations through the page and
 * writes their ids to TEMPERA_RESTART_STATE; =after opens the page in a fresh browser profile (nothing
 * remembered in the page) and finds them in the History tab, ended, with their images loading, and in
 * the Gallery. Needs TEMPERA_URL, TEMPERA_PAGE_API_KEY and Chromium, like try-it.browser.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PHASE = process.env.TEMPERA_RESTART_PHASE;
const STATE = process.env.TEMPERA_RESTART_STATE;
const TEMPERA_URL = process.env.TEMPERA_URL;
const KEY = process.env.TEMPERA_PAGE_API_KEY;
const CHROMIUM = process.env.TEMPERA_CHROMIUM || "/usr/bin/chromium";

let context: BrowserContext;
let page: Page;
let profile: string;

describe.runIf(PHASE)("the history across a restart", () => {
  beforeAll(async () => {
    if (!TEMPERA_URL || !KEY || !STATE) throw new Error("TEMPERA_URL, TEMPERA_PAGE_API_KEY and TEMPERA_RESTART_STATE must be set");
    profile = mkdtempSync(join(tmpdir(), "tempera-chromium-restart-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 900 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${TEMPERA_URL.replace(/\/+$/, "")}/#key=${encodeURIComponent(KEY)}`, { waitUntil: "load" });
    await page.getByTestId("function-generate-pattern").waitFor({ timeout: 30_000 });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it.runIf(PHASE === "before")("starts two generations and waits for them to end", async () => {
    await page.getByTestId("function-generate-pattern").click();
    await page.getByTestId("tier-draft").check({ force: true });
    await page.getByTestId("batch").fill("2");
    await page.getByTestId("start").click();
    await expect.poll(() => page.getByTestId("run").count(), { timeout: 20_000 }).toBe(2);
    for (let i = 0; i < 2; i++) {
      await expect.poll(() => page.getByTestId("run").nth(i).getAttribute("data-status"), { timeout: 60_000 }).toBe("SUCCEEDED");
    }
    const ids = await page.getByTestId("run").evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.taskId!));
    writeFileSync(STATE!, JSON.stringify(ids));
  });

  it.runIf(PHASE === "after")("finds them in the History and the Gallery, from the server, in a fresh browser", async () => {
    const ids = JSON.parse(readFileSync(STATE!, "utf8")) as string[];
    expect(ids).toHaveLength(2);
    expect(await page.getByTestId("run").count()).toBe(0); // nothing remembered in this browser
    // on the dev server, running generations survive a restart: the page has no note to show
    const system = await page.evaluate(async (key) => (await fetch("/api/system", { headers: { authorization: `Bearer ${key}` } })).json(), KEY!);
    expect(system).toEqual({ temporal: "DEV_SERVER", durable: true });
    await expect.poll(() => page.getByTestId("system-note").getAttribute("data-temporal"), { timeout: 15_000 }).toBe("DEV_SERVER");
    expect(await page.getByTestId("system-note").isHidden()).toBe(true);
    await page.getByTestId("tab-history").click();
    for (const id of ids) {
      const row = page.locator(`[data-testid=history-item][data-id="${id}"]`);
      await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
      expect(await row.getAttribute("data-status")).toBe("SUCCEEDED");
      await expect.poll(() => row.locator("img").first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
    }
    await page.getByTestId("tab-gallery").click();
    for (const id of ids) {
      await expect.poll(() => page.locator(`[data-testid=gallery-item][data-generation="${id}"]`).count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    }
  });
});
