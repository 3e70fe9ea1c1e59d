import { describe, expect, it } from "vitest";
import { describeWaiting, EtaSmoother, waitingFor } from "../src/eta.js";
import { describeProgress, doneCount } from "../src/batch.js";
import { batchVariation, isRandomParameter, nextSeed, seedsFor, wrap } from "../src/seed.js";
import { checkBatchCount, checkNumber } from "../src/validate.js";

describe("checkNumber", () => {
  const blur = { type: "integer", minimum: 0, maximum: 31 } as const;
  it("takes numbers within bounds", () => {
    expect(checkNumber("4", blur)).toEqual({ ok: true, value: 4 });
    expect(checkNumber(" 31 ", blur)).toEqual({ ok: true, value: 31 });
    expect(checkNumber("0.25", { type: "number", minimum: 0, maximum: 1 })).toEqual({ ok: true, value: 0.25 });
    expect(checkNumber("1e2", { type: "number" })).toEqual({ ok: true, value: 100 });
  });
  it("leaves an empty optional field out (the server's default), and says a required one is missing", () => {
    expect(checkNumber("", blur)).toEqual({ ok: true, value: undefined });
    expect(checkNumber("  ", { ...blur, required: true })).toEqual({ ok: false, message: "Required: enter a number" });
  });
  it("says what is wrong instead of falling back to the default", () => {
    expect(checkNumber("abc", blur)).toEqual({ ok: false, message: 'Not a number: "abc"' });
    expect(checkNumber("12px", blur)).toEqual({ ok: false, message: 'Not a number: "12px"' });
    expect(checkNumber("0x10", blur)).toEqual({ ok: false, message: 'Not a number: "0x10"' });
    expect(checkNumber("1,5", { type: "number" })).toEqual({ ok: false, message: "Not a number: use a point for decimals (1.5)" });
    expect(checkNumber("2.5", blur)).toEqual({ ok: false, message: "Must be a whole number (2 or 3)" });
    expect(checkNumber("99", blur)).toEqual({ ok: false, message: "Must be at most 31" });
    expect(checkNumber("-1", blur)).toEqual({ ok: false, message: "Must be at least 0" });
    expect(checkNumber("1e999", { type: "number" })).toEqual({ ok: false, message: "Too large a number" });
  });
  it("checks a batch count from 1 to its maximum, empty meaning one", () => {
    expect(checkBatchCount("", 8)).toEqual({ ok: true, value: 1 });
    expect(checkBatchCount("3", 8)).toEqual({ ok: true, value: 3 });
    expect(checkBatchCount("0", 8)).toEqual({ ok: false, message: "Must be at least 1" });
    expect(checkBatchCount("9", 8)).toEqual({ ok: false, message: "Must be at most 8" });
  });
});

describe("EtaSmoother", () => {
  it("counts down between updates and follows estimates that agree", () => {
    const eta = new EtaSmoother();
    expect(eta.update(undefined, 0)).toBeUndefined();
    expect(eta.update(20, 0)).toBe(20);
    expect(eta.shown(5_000)).toBe(15);
    expect(eta.update(15, 5_000)).toBe(15);
    expect(eta.shown(30_000)).toBe(0);
  });
  it("does not jump up and down with noisy estimates", () => {
    const eta = new EtaSmoother();
    // a run of 30 s whose per-update estimate swings ±40 %
    const shown: number[] = [];
    for (let t = 0; t <= 20; t++) {
      const truth = 30 - t;
      const noisy = truth * (t % 2 === 0 ? 1.4 : 0.6);
      shown.push(eta.update(noisy, t * 1000)!);
    }
    const steps = shown.slice(1).map((v, i) => shown[i]! - v);
    // the raw estimates jumped by up to 24 s from one second to the next: the shown value moves by a few
    // seconds at a time, and goes up at most once, a little, when it had fallen below the truth
    expect(Math.max(...steps.map(Math.abs)), shown.join(",")).toBeLessThanOrEqual(8);
    const rises = steps.filter((s) => s < 0);
    expect(rises.length, shown.join(",")).toBeLessThanOrEqual(1);
    expect(Math.min(0, ...rises), shown.join(",")).toBeGreaterThanOrEqual(-3);
    expect(shown.at(-1)!, shown.join(",")).toBeLessThanOrEqual(12); // and it ends near the truth (10)
  });
  it("moves later only when the estimates stay later, and then by part of the difference", () => {
    const eta = new EtaSmoother({ weight: 0.5, patience: 3 });
    eta.update(10, 0);
    expect(eta.update(60, 1_000)).toBe(9); // one slow estimate: ignored
    expect(eta.update(60, 2_000)).toBe(8);
    expect(eta.update(60, 3_000)).toBe(34); // the third in a row: half way to 60
    eta.reset();
    expect(eta.shown(3_000)).toBeUndefined();
  });
  it("ignores nonsense estimates", () => {
    const eta = new EtaSmoother();
    eta.update(10, 0);
    expect(eta.update(Number.NaN, 1_000)).toBe(9);
    expect(eta.update(-5, 2_000)).toBe(8);
  });
});

describe("waitingFor", () => {
  it("tells a slot wait from the backend's queue, from the server's waiting field", () => {
    expect(waitingFor({ phase: "WAITING_FOR_SLOT", waiting: { for: "slot", position: 3, startsInSeconds: 40 } })).toEqual({ kind: "slot", ahead: 2, startsInSeconds: 40 });
    expect(waitingFor({ phase: "GENERATING", waiting: { for: "backend", position: 1 } })).toEqual({ kind: "backend-queue", ahead: 0 });
  });
  it("and from older servers' fields", () => {
    expect(waitingFor({ phase: "WAITING_FOR_SLOT" })).toEqual({ kind: "slot" });
    expect(waitingFor({ phase: "GENERATING", queuePosition: 2, startsInSeconds: 7 })).toEqual({ kind: "backend-queue", ahead: 2, startsInSeconds: 7 });
    expect(waitingFor({ phase: "GENERATING", queuePosition: 0 })).toEqual({ kind: "backend-queue", ahead: 0 });
    expect(waitingFor({ phase: "GENERATING" })).toEqual({ kind: "none" });
  });
  it("says each its own way", () => {
    const d = (s: number) => `${s} s`;
    expect(describeWaiting({ kind: "slot" }, d)).toBe("waiting in line for a GPU slot");
    expect(describeWaiting({ kind: "slot", ahead: 0, startsInSeconds: 12 }, d)).toBe("next in line for a GPU slot · starts in about 12 s");
    expect(describeWaiting({ kind: "backend-queue", ahead: 2 }, d)).toBe("2 ahead in the backend's queue");
    expect(describeWaiting({ kind: "none" }, d)).toBe("");
  });
});

describe("seed modes", () => {
  it("random leaves the seed to the server, fixed repeats it, vary counts up", () => {
    expect(seedsFor("random", 7, 3)).toEqual([undefined, undefined, undefined]);
    expect(seedsFor("fixed", 7, 3)).toEqual([7, 7, 7]);
    expect(seedsFor("vary", 7, 3)).toEqual([7, 8, 9]);
    expect(seedsFor("fixed", undefined, 2)).toEqual([undefined, undefined]);
  });
  it("vary moves the field past the seeds used; the others keep it", () => {
    expect(nextSeed("vary", 7, 3)).toBe(10);
    expect(nextSeed("fixed", 7, 3)).toBe(7);
    expect(nextSeed("random", 7, 3)).toBe(7);
  });
  it("stays within the parameter's bounds", () => {
    expect(seedsFor("vary", 16777214, 3, { minimum: 0, maximum: 16777215 })).toEqual([16777214, 16777215, 0]);
    expect(wrap(-3, { minimum: 0, maximum: 9 })).toBe(0);
    expect(isRandomParameter({ type: "integer", "x-tempera-random": true })).toBe(true);
    expect(isRandomParameter({ type: "integer" })).toBe(false);
  });
});

describe("How many > 1 as one batch", () => {
  it("random seeds make a count, varied seeds a sweep of the seed", () => {
    expect(batchVariation("seed", seedsFor("random", undefined, 4))).toEqual({ count: 4 });
    expect(batchVariation("seed", seedsFor("vary", 100, 3))).toEqual({ sweep: { seed: [100, 101, 102] } });
  });
  it("nothing that varies (no seed parameter, a fixed seed, or one generation) is no batch", () => {
    expect(batchVariation(undefined, [undefined, undefined])).toBeUndefined();
    expect(batchVariation("seed", seedsFor("fixed", 7, 3))).toBeUndefined();
    expect(batchVariation("seed", [undefined])).toBeUndefined();
    expect(batchVariation("seed", [5])).toBeUndefined();
  });
  it("says how many variations ended, and what failed or was cancelled", () => {
    const progress = { total: 5, waiting: 1, queued: 0, running: 1, succeeded: 3, failed: 0, cancelled: 0 };
    expect(doneCount(progress)).toBe(3);
    expect(describeProgress(progress)).toBe("3 of 5 done");
    expect(describeProgress({ ...progress, waiting: 0, running: 0, failed: 1, cancelled: 1 })).toBe("5 of 5 done (1 failed, 1 cancelled)");
  });
});
