/**
 * Exponential backoff with full jitter: the n-th delay is uniform in
 * [0, min(maxMs, initialMs · multiplier^n)). Reset after a success.
 */

/** Options of a backoff. */
export interface BackoffOptions {
  /** The cap of the first delay (default 200 ms). */
  readonly initialMs?: number;
  /** The largest cap (default 30 s). */
  readonly maxMs?: number;
  /** Growth of the cap per attempt (default 2). */
  readonly multiplier?: number;
  /** Uniform in [0, 1) (default `Math.random`); fixed in tests. */
  readonly random?: () => number;
}

/** Jittered exponential backoff (one per thing that retries). */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 200;
    this.maxMs = o.maxMs ?? 30_000;
    this.multiplier = o.multiplier ?? 2;
    this.random = o.random ?? Math.random;
  }

  /** The cap of the next delay (without jitter). */
  get cap(): number {
    return Math.min(this.maxMs, this.initialMs * this.multiplier ** this.attempt);
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay (ms), and one more attempt. */
  next(): number {
    const cap = this.cap;
    this.attempt++;
    return Math.floor(this.random() * cap);
  }

  /** Starts over from the smallest delay. */
  reset(): void {
    this.attempt = 0;
  }
}
