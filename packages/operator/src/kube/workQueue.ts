/**
 * A keyed, de-duplicating work queue with rate-limited retries (the client-go model).
 *
 * Invariants:
 * - a key is in the queue at most once, however often it is added;
 * - a key is never processed by two workers at once: a key added while it is being
 *   processed is queued again when the worker finishes;
 * - a failed key is retried after a per-key exponential delay; success resets the delay.
 */
import { errorMessage, silentLogger, type Logger } from '../log.js';

/** Timer functions (tests pass fakes so nothing sleeps). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Observers for metrics. */
export interface WorkQueueHooks {
  /** After every processed key, with its duration and outcome. */
  processed?(key: string, ms: number, ok: boolean): void;
  /** When a key is scheduled for retry. */
  retried?(key: string, delayMs: number): void;
  /** Whenever the depth changes. */
  depth?(n: number): void;
}

/** Options of a work queue. */
export interface WorkQueueOptions {
  readonly name: string;
  /** First retry delay in ms (default 50). */
  readonly baseDelayMs?: number;
  /** Largest retry delay in ms (default 60 s). */
  readonly maxDelayMs?: number;
  readonly logger?: Logger;
  readonly timers?: Timers;
  readonly hooks?: WorkQueueHooks;
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The queue. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, unknown>();
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly timers: Timers;
  private readonly log: Logger;

  constructor(private readonly options: WorkQueueOptions) {
    this.timers = options.timers ?? defaultTimers;
    this.log = (options.logger ?? silentLogger).with({ queue: options.name });
  }

  /** Adds a key now (no-op if it is already queued). */
  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.options.hooks?.depth?.(this.length);
    const w = this.waiters.shift();
    if (w) w();
  }

  /** Adds a key after `ms` (a later call with a shorter delay wins). */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const prev = this.delayed.get(key);
    if (prev !== undefined) this.timers.clearTimeout(prev);
    this.delayed.set(
      key,
      this.timers.setTimeout(() => {
        this.delayed.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Adds a key after its next backoff delay, and returns that delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const base = this.options.baseDelayMs ?? 50;
    const delay = Math.min(this.options.maxDelayMs ?? 60_000, base * 2 ** Math.min(n, 30));
    this.options.hooks?.retried?.(key, delay);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failed attempts of a key since it last succeeded. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to be processed. */
  get length(): number {
    return this.queue.length - this.head;
  }

  /** True when nothing is queued, delayed or being processed. */
  get idle(): boolean {
    return this.length === 0 && this.processing.size === 0 && this.delayed.size === 0;
  }

  /**
   * Processes keys with `workers` concurrent workers until `shutDown()`; resolves when every
   * worker has finished its current key. A handler that throws has its key retried.
   */
  async run(handler: (key: string) => Promise<void>, workers = 1): Promise<void> {
    await Promise.all(Array.from({ length: workers }, () => this.worker(handler)));
  }

  /** Stops taking keys; pending timers are cancelled. */
  shutDown(): void {
    this.closed = true;
    for (const t of this.delayed.values()) this.timers.clearTimeout(t);
    this.delayed.clear();
    for (const w of this.waiters) w();
    this.waiters = [];
  }

  private async next(): Promise<string | undefined> {
    while (!this.closed) {
      if (this.length > 0) {
        const key = this.queue[this.head++] as string;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.queued.delete(key);
        this.options.hooks?.depth?.(this.length);
        return key;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return undefined;
  }

  private async worker(handler: (key: string) => Promise<void>): Promise<void> {
    for (;;) {
      const key = await this.next();
      if (key === undefined) return;
      this.processing.add(key);
      const t0 = performance.now();
      let ok = true;
      try {
        await handler(key);
        this.forget(key);
      } catch (err) {
        ok = false;
        const delay = this.addRateLimited(key);
        this.log.warn('reconcile failed: retrying', {
          key,
          error: errorMessage(err),
          retryInMs: delay,
          attempt: this.retries(key),
        });
      }
      this.options.hooks?.processed?.(key, performance.now() - t0, ok);
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.add(key);
    }
  }
}
