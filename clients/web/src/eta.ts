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

/** What a generation is waiting for, if anything: a Tempera slot, or its turn in the backend's own queue. */
export type Waiting =
  | { kind: "slot" }
  | { kind: "backend-queue"; position: number; startsInSeconds?: number }
  | { kind: "none" };

export function waitingFor(v: { phase?: string; queuePosition?: number | null; startsInSeconds?: number | null }): Waiting {
  if (v.phase === "WAITING_FOR_SLOT") return { kind: "slot" };
  if (v.queuePosition !== undefined && v.queuePosition !== null) {
    return {
      kind: "backend-queue",
      position: v.queuePosition,
      ...(v.startsInSeconds !== undefined && v.startsInSeconds !== null ? { startsInSeconds: v.startsInSeconds } : {}),
    };
  }
  return { kind: "none" };
}
