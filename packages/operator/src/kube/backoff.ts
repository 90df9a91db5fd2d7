/** Exponential backoff with full jitter, and the clock that sleeps for it. */

/** Options of a backoff. */
export interface BackoffOptions {
  /** First delay in ms (default 200). */
  readonly initialMs?: number;
  /** Largest delay in ms (default 30 s). */
  readonly maxMs?: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
  /** Random source in [0, 1) (default Math.random); tests pass a fixed one. */
  readonly random?: () => number;
}

/**
 * Delays that double (by `factor`) per failed attempt up to `maxMs`; each delay is drawn
 * between half and all of the nominal delay, so many clients do not retry in step.
 */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.random = options.random ?? Math.random;
  }

  /** The next delay in ms. */
  next(): number {
    const nominal = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 64);
    return Math.round(nominal / 2 + (this.random() * nominal) / 2);
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Back to the first delay (after a success). */
  reset(): void {
    this.attempt = 0;
  }
}

/** Sleeps `ms`, resolving early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
