/**
 * The seed field's modes, for a function's random parameter (`x-tempera-random` in its schema):
 * random — left out, the server draws a new one each time (shown on the result, to reproduce it);
 * fixed — the same seed every time, so the same settings give the same result;
 * vary — the seed, then the seed + 1, + 2, … : neighbouring, reproducible variations (and the field
 * moves on past the ones used). Pure functions: no DOM.
 */
export type SeedMode = "random" | "fixed" | "vary";

export const SEED_MODES: readonly SeedMode[] = ["random", "fixed", "vary"];

export interface SeedRange {
  minimum?: number;
  maximum?: number;
}

/** The seeds for `count` generations in `mode` from `base` (undefined: the server draws it). */
export function seedsFor(mode: SeedMode, base: number | undefined, count: number, range: SeedRange = {}): (number | undefined)[] {
  if (mode === "random" || base === undefined) return Array.from({ length: count }, () => undefined);
  if (mode === "fixed") return Array.from({ length: count }, () => base);
  return Array.from({ length: count }, (_, i) => wrap(base + i, range));
}

/** The seed field's value after `count` generations: vary moves past the ones used, the others keep it. */
export function nextSeed(mode: SeedMode, base: number | undefined, count: number, range: SeedRange = {}): number | undefined {
  if (mode !== "vary" || base === undefined) return base;
  return wrap(base + count, range);
}

/** Keeps a seed within the parameter's bounds (past the maximum it starts again at the minimum). */
export function wrap(seed: number, range: SeedRange): number {
  const min = range.minimum ?? 0;
  const max = range.maximum ?? 4294967295;
  if (seed > max) return min + ((seed - min) % (max - min + 1));
  if (seed < min) return min;
  return seed;
}

/** True for the schema of a parameter the server draws when it is left out. */
export function isRandomParameter(schema: { [extra: string]: unknown }): boolean {
  return schema["x-tempera-random"] === true;
}

/** How a batch of the seeds `seedsFor` gave varies: `count` new seeds, or a `sweep` of given ones. */
export type BatchVariation = { count: number } | { sweep: Record<string, number[]> };

/**
 * How "How many" > 1 runs as one batch: random seeds → `count` (the server draws one per variation),
 * given distinct seeds (vary) → a `sweep` of the seed; undefined when nothing would vary (no seed
 * parameter, or a fixed seed: the server refuses such a batch, so the page starts the generations one by one).
 */
export function batchVariation(seedName: string | undefined, seeds: (number | undefined)[]): BatchVariation | undefined {
  if (seedName === undefined || seeds.length < 2) return undefined;
  if (seeds.every((s) => s === undefined)) return { count: seeds.length };
  if (seeds.some((s) => s === undefined) || new Set(seeds).size !== seeds.length) return undefined;
  return { sweep: { [seedName]: seeds as number[] } };
}
