/**
 * Exponential backoff with jitter, for everything that retries (informers, the shim's
 * stream to the operator, certificate renewal). Pure: the random source comes in
 * through options, so tests fix it.
 */

/**
 * How a delay is drawn below its cap: `full` uniformly in [0, cap) (spreads a crowd of
 * clients the most); `equal` between half and all of the cap (never retries at once).
 */
export type Jitter = 'full' | 'equal';

/** Options of a backoff. */
export interface BackoffOptions {
  /** The cap of the first delay in ms (default 200). */
  readonly initialMs?: number;
  /** The largest cap in ms (default 30 s). */
  readonly maxMs?: number;
  /** Growth of the cap per attempt (default 2). */
  readonly factor?: number;
  /** Default `full`. */
  readonly jitter?: Jitter;
  /** Uniform in [0, 1) (default `Math.random`); fixed in tests. */
  readonly random?: () => number;
}

/** Jittered exponential backoff (one per thing that retries). */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: Jitter;
  private readonly random: () => number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 200;
    this.maxMs = o.maxMs ?? 30_000;
    this.factor = o.factor ?? 2;
    this.jitter = o.jitter ?? 'full';
    this.random = o.random ?? Math.random;
  }

  /** The cap of the next delay (without jitter). */
  get cap(): number {
    return Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(this.attempt, 64));
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay (ms), and one more attempt. */
  next(): number {
    const cap = this.cap;
    this.attempt++;
    return this.jitter === 'full'
      ? Math.floor(this.random() * cap)
      : Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  /** Starts over from the smallest delay. */
  reset(): void {
    this.attempt = 0;
  }
}
