/**
 * A steady ETA for people to read. The server's estimate can swing from one update to the next (a
 * step slower than the last, the backend's queue moving); shown as it comes, it jumps up and down.
 * The smoother follows the estimated end time, not the seconds left: between updates the shown time
 * counts down on its own, each new estimate moves the end only part of the way, and an estimate later
 * than the shown end moves it back only when it stays later (a lone slow step does not), by a bounded
 * amount. Pure: the caller passes the time. Also keeps waiting for a slot apart from the backend's queue.
 */

export interface EtaOptions {
  /** How far each new estimate moves the shown end towards it (0..1). */
  weight?: number;
  /** How many later estimates in a row it takes before the shown end moves later. */
  patience?: number;
}

export class EtaSmoother {
  private end: number | undefined;
  private later = 0;
  private readonly weight: number;
  private readonly patience: number;

  constructor(options: EtaOptions = {}) {
    this.weight = options.weight ?? 0.3;
    this.patience = options.patience ?? 3;
  }

  /** Takes the server's estimate (seconds left at `now` ms; undefined: none) and returns the seconds to show. */
  update(etaSeconds: number | undefined, now: number): number | undefined {
    if (etaSeconds === undefined || etaSeconds === null || !Number.isFinite(etaSeconds) || etaSeconds < 0) {
      return this.shown(now);
    }
    const target = now + etaSeconds * 1000;
    if (this.end === undefined) {
      this.end = target;
      return this.shown(now);
    }
    if (target <= this.end) {
      this.later = 0;
      this.end = this.end + (target - this.end) * this.weight;
    } else if (++this.later >= this.patience) {
      // it really is going to take longer: move later, but at most by the weight of the difference
      this.end = this.end + (target - this.end) * this.weight;
    }
    return this.shown(now);
  }

  /** The seconds to show at `now`, counting down between updates; undefined before any estimate. */
  shown(now: number): number | undefined {
    if (this.end === undefined) return undefined;
    return Math.max(0, Math.round((this.end - now) / 1000));
  }

  reset(): void {
    this.end = undefined;
    this.later = 0;
  }
}

/**
 * What a generation is waiting for, if anything: a GPU slot of its pool, or its turn in the backend's own
 * queue. `ahead` is how many go first (0: it is next), `startsInSeconds` the estimated wait, when known.
 */
export type Waiting =
  | { kind: "slot" | "backend-queue"; ahead?: number; startsInSeconds?: number }
  | { kind: "none" };

interface WaitingFields {
  phase?: string;
  /** The server's own account (`waiting: {for, position (1 = next), startsInSeconds}`), where it gives one. */
  waiting?: { for: string; position?: number | null; startsInSeconds?: number | null } | null;
  /** Older servers: the place in the backend's queue (0 = next). */
  queuePosition?: number | null;
  startsInSeconds?: number | null;
}

export function waitingFor(v: WaitingFields): Waiting {
  const w = v.waiting;
  if (w && (w.for === "slot" || w.for === "backend")) {
    return {
      kind: w.for === "slot" ? "slot" : "backend-queue",
      ...(typeof w.position === "number" ? { ahead: Math.max(0, w.position - 1) } : {}),
      ...(typeof w.startsInSeconds === "number" ? { startsInSeconds: w.startsInSeconds } : {}),
    };
  }
  if (v.phase === "WAITING_FOR_SLOT") return { kind: "slot" };
  if (typeof v.queuePosition === "number") {
    return {
      kind: "backend-queue",
      ahead: v.queuePosition,
      ...(typeof v.startsInSeconds === "number" ? { startsInSeconds: v.startsInSeconds } : {}),
    };
  }
  return { kind: "none" };
}

/** The words for a wait: "next in line for a GPU slot", "2 ahead in the backend's queue · starts in about 5 s". */
export function describeWaiting(w: Waiting, duration: (seconds: number) => string): string {
  if (w.kind === "none") return "";
  const line = w.kind === "slot" ? "in line for a GPU slot" : "in the backend's queue";
  const parts = [w.ahead === undefined ? `waiting ${line}` : w.ahead === 0 ? `next ${line}` : `${w.ahead} ahead ${line}`];
  if (w.startsInSeconds !== undefined) parts.push(`starts in about ${duration(w.startsInSeconds)}`);
  return parts.join(" · ");
}
